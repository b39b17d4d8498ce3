import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, PROTOCOL_V1 } from '@vision/wire';
import {
  COLORS,
  drawScene,
  modelsDir,
  startRedisSite,
  TestClient,
  type RedisSite,
  type ServiceProcess,
  sleep,
} from '@vision/testing';

const CAMERAS = 4;
const FPS = 8;
/** Replies must all come from the new version this long after the SIGHUP. */
const SWITCH_BOUND_MS = 3000;

type Reply = {
  type: string;
  frameId?: number;
  model?: string;
  modelVersion?: string;
  detections?: { name: string }[];
  error?: { code: string };
};

/**
 * A new version of a model registered while four cameras stream through one edge to two workers:
 * no socket closes, every frame gets exactly one reply, and replies move to the new version (whose
 * class names differ, so the boxes show which version made them) within a bounded time.
 */
describe('hot swap under load', () => {
  let site: RedisSite;
  let dir: string;
  let file: string;
  let edge: ServiceProcess;
  let workers: ServiceProcess[];

  const register = (version: string, names?: string) =>
    writeFileSync(
      file,
      JSON.stringify({
        models: [
          {
            id: 'site',
            path: join(modelsDir(), 'colors-v8-dyn.onnx'),
            version,
            ...(names ? { namesFile: names } : {}),
          },
        ],
      }),
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vision-swap-'));
    file = join(dir, 'models.json');
    writeFileSync(join(dir, 'v2.names'), 'red-v2\ngreen-v2\nblue-v2\n');
    register('1');
    site = await startRedisSite('swap', { env: { MODELS_FILE: file, TENANT_MAX_QUEUE: '64' } });
    workers = await Promise.all(['w1', 'w2'].map((id) => site.start('worker', { WORKER_ID: id })));
    edge = await site.start('edge');
  });

  afterAll(async () => {
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('swaps the model version under load: no socket closed, every frame answered once, switch within 3 s', async () => {
    const image = await drawScene({
      width: 640,
      height: 480,
      format: 'jpeg',
      rects: [{ x: 256, y: 176, w: 32, h: 32, color: COLORS.green }],
    });
    const cameras = Array.from(
      { length: CAMERAS },
      () => new TestClient(`ws://127.0.0.1:${edge.port}/ws/detect`, PROTOCOL_V1),
    );
    await Promise.all(cameras.map((c) => c.waitFor(1)));
    const sent = cameras.map(() => new Map<number, number>()); // frameId → sentAt
    let running = true;
    const loops = cameras.map(async (c, i) => {
      let id = 0;
      while (running) {
        sent[i].set(++id, Date.now());
        c.send(encodeFrame({ frameId: id, streamId: `cam-${i}` }, image));
        await sleep(1000 / FPS);
      }
    });
    await sleep(2000);
    register('2', join(dir, 'v2.names'));
    const swappedAt = Date.now();
    for (const p of [...workers, edge]) p.proc.kill('SIGHUP');
    await Promise.all(workers.map((w) => w.waitForLog((l) => l['msg'] === 'model swapped', 10_000)));
    await sleep(SWITCH_BOUND_MS + 1000);
    running = false;
    await Promise.all(loops);
    await sleep(3000); // the last frames' deadline + margin

    let v1 = 0;
    let v2 = 0;
    cameras.forEach((c, i) => {
      const replies = c.messages.slice(1).filter((m) => (m as Reply).frameId !== undefined) as Reply[];
      // Exactly one reply per frame sent: no frame lost or answered twice across the swap.
      expect(replies.map((r) => r.frameId).sort((a, b) => a! - b!)).toEqual([...sent[i].keys()]);
      for (const r of replies) {
        if (r.type !== 'result') {
          expect(['E_DROPPED', 'E_OVERLOADED'], JSON.stringify(r)).toContain(r.error?.code);
          continue;
        }
        // The boxes agree with the version the reply names.
        expect(r.detections!.map((d) => d.name)).toEqual([r.modelVersion === '2' ? 'green-v2' : 'green']);
        if (r.modelVersion === '1') {
          v1++;
          expect(sent[i].get(r.frameId!)! - swappedAt, `frame ${r.frameId} of camera ${i} still on v1`).toBeLessThan(
            SWITCH_BOUND_MS,
          );
        } else v2++;
      }
    });
    expect(v1).toBeGreaterThan(0);
    expect(v2).toBeGreaterThan(CAMERAS * FPS);
    for (const c of cameras) expect(c.ws.readyState).toBe(c.ws.OPEN);
    for (const c of cameras) c.ws.close();
  });
});
