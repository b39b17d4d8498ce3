import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame as encodeWire, PROTOCOL_V1, type FrameHeader } from '@vision/wire';
import {
  COLORS,
  drawScene,
  modelsDir,
  rssPeaks,
  seededRandom,
  startRedisSite,
  TestClient,
  type RedisSite,
  type ServiceProcess,
  sleep,
} from '@vision/testing';

const MESSAGES = 6000;
const CONNECTIONS = 4;
/**
 * What the edge and the worker may reach while fuzzed: the largest peaks in docs/benchmarks.md,
 * "Memory under attack" (fuzzing), half as much again.
 */
const RSS_BOUND_MB = { edge: 198, worker: 666 };

const encodeFrame = (h: FrameHeader, image: Uint8Array) => Buffer.from(encodeWire(h, image));

/**
 * Random and mutated messages (frame headers, image bytes, text, fragments) at a running edge and
 * worker. Each message is one of: a valid frame, a valid frame with mutated header bytes, a frame
 * whose image bytes are mutated or truncated, random bytes, random or malformed text, or a
 * message sent as several fragments.
 */
describe('fuzz: random and mutated messages at a running edge + worker', () => {
  let site: RedisSite;
  let edge: ServiceProcess;
  let worker: ServiceProcess;
  const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1_000_000);

  beforeAll(async () => {
    site = await startRedisSite('fuzz', {
      env: { LOG_LEVEL: 'warn', MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') },
    });
    worker = await site.start('worker', { LOG_LEVEL: 'info' });
    // Limits high enough that the fuzzer is answered message by message instead of being cut off.
    edge = await site.start('edge', {
      LOG_LEVEL: 'info',
      MESSAGES_PER_SECOND: '100000',
      FRAMES_PER_SECOND: '100000',
      SUBJECT_FRAMES_PER_SECOND: '100000',
      VIOLATIONS_BEFORE_CLOSE: '100000',
      MAX_FRAME_BYTES: '65536',
      TENANT_MAX_QUEUE: '64',
      MAX_IN_FLIGHT: '4',
    });
  });

  afterAll(() => site.stop());

  it(`answers every message once, stays up and within its memory bound (seed: FUZZ_SEED or the clock)`, async () => {
    console.log(`fuzz seed ${seed}`);
    const rand = seededRandom(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const images = await Promise.all(
      [COLORS.red, COLORS.green, COLORS.blue].flatMap((color) =>
        (['jpeg', 'png', 'webp'] as const).map((format) =>
          drawScene({ width: 96, height: 64, format, rects: [{ x: 32, y: 16, w: 32, h: 32, color }] }),
        ),
      ),
    );
    const url = `ws://127.0.0.1:${edge.port}/ws/detect`;
    const clients = await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        const c = new TestClient(url, PROTOCOL_V1);
        await c.waitFor(1);
        return c;
      }),
    );
    const sent = clients.map(() => 0);
    const sampler = rssPeaks({ edge: edge.proc.pid!, worker: worker.proc.pid! });

    const mutate = (b: Buffer, n: number) => {
      const out = Buffer.from(b);
      for (let k = 0; k < n; k++) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
      return out;
    };
    const message = (frameId: number): { data: Buffer | string; fragments?: number } => {
      const img = pick(images);
      const r = rand();
      if (r < 0.3)
        return { data: encodeFrame({ frameId, streamId: `cam-${frameId % 7}`, captureTs: Date.now() }, img) };
      if (r < 0.45)
        return {
          data: mutate(
            encodeFrame({ frameId, streamId: 'x'.repeat(Math.floor(rand() * 40)) }, img),
            1 + Math.floor(rand() * 4),
          ).subarray(0),
        };
      if (r < 0.55) {
        const f = encodeFrame({ frameId }, img);
        const h = f.readUInt16BE(2);
        return { data: Buffer.concat([f.subarray(0, h), mutate(f.subarray(h), 1 + Math.floor(rand() * 20))]) };
      }
      if (r < 0.62) return { data: encodeFrame({ frameId }, img.subarray(0, Math.floor(rand() * img.length))) };
      if (r < 0.7)
        return { data: Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))) };
      if (r < 0.75)
        return {
          data: Buffer.concat([
            Buffer.from([1, 0]),
            Buffer.from(Array.from({ length: Math.floor(rand() * 30) }, () => Math.floor(rand() * 256))),
          ]),
        };
      if (r < 0.8)
        return {
          data: pick([
            '{"type":"ping","ts":1}',
            '{"type":"hello"}',
            '{"type":',
            'null',
            '[]',
            '{"type":"auth","token":"x"}',
            '"' + 'z'.repeat(5000) + '"',
            '{"a":' + '['.repeat(500) + ']'.repeat(500) + '}',
          ]),
        };
      if (r < 0.85) return { data: Buffer.alloc(0) };
      if (r < 0.9) return { data: Buffer.alloc(65_700, 0xff) }; // over MAX_FRAME_BYTES, under the socket cap (+272)
      return { data: encodeFrame({ frameId }, img), fragments: 2 + Math.floor(rand() * 5) };
    };

    let frameId = 0;
    const perClient = Math.ceil(MESSAGES / CONNECTIONS);
    await Promise.all(
      clients.map(async (c, ci) => {
        for (let k = 0; k < perClient; k++) {
          const m = message(++frameId);
          if (m.fragments && typeof m.data !== 'string') {
            const size = Math.ceil(m.data.length / m.fragments);
            for (let off = 0; off < m.data.length; off += size)
              c.ws.send(m.data.subarray(off, off + size), { fin: off + size >= m.data.length });
          } else {
            c.send(m.data);
          }
          sent[ci]++;
          // Keep a bounded number of replies outstanding, like a client reading its socket would.
          if (sent[ci] - (c.messages.length - 1) > 32) await c.waitFor(sent[ci] - 32 + 1, 20_000);
        }
      }),
    );
    for (const [ci, c] of clients.entries()) await c.waitFor(sent[ci] + 1, 30_000);
    await sleep(500); // nothing more may arrive
    const rss = sampler.stop();
    const replies = clients.map((c) => c.messages.length - 1);
    const outcomes: Record<string, number> = {};
    for (const c of clients) {
      for (const m of c.messages.slice(1) as { type: string; error?: { code: string } }[]) {
        const k = m.type === 'error' ? m.error!.code : m.type;
        outcomes[k] = (outcomes[k] ?? 0) + 1;
      }
    }
    console.log('fuzz:', JSON.stringify({ sent: sent.reduce((a, b) => a + b), outcomes, rssMb: rss }));

    expect(sent.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(5000);
    expect(replies).toEqual(sent);
    for (const c of clients) {
      const ids = (c.messages.slice(1) as { type: string; frameId?: number }[])
        .filter((m) => m.type === 'result')
        .map((m) => m.frameId);
      // Valid frames are still served to every client (how many depends on the worker's speed:
      // queued frames are replaced, latest wins), and carry unique ids: none answered twice.
      expect(ids.length).toBeGreaterThan(0);
      expect(new Set(ids).size).toBe(ids.length);
    }
    expect(rss.edge).toBeLessThan(RSS_BOUND_MB.edge);
    expect(rss.worker).toBeLessThan(RSS_BOUND_MB.worker);
    expect(edge.proc.exitCode).toBeNull();
    expect(worker.proc.exitCode).toBeNull();
    // And it still works as before.
    const after = new TestClient(url, PROTOCOL_V1);
    await after.waitFor(1);
    after.send(
      encodeFrame(
        { frameId: 1 },
        await drawScene({
          width: 1280,
          height: 720,
          format: 'jpeg',
          rects: [{ x: 640, y: 232, w: 64, h: 64, color: COLORS.red }],
        }),
      ),
    );
    const [, res] = (await after.waitFor(2)) as { detections: { name: string }[] }[];
    expect(res.detections.map((d) => d.name)).toEqual(['red']);
    for (const c of [...clients, after]) c.close();
  });
});
