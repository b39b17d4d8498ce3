import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  cleanupPrefix,
  imageFixturesDir,
  LoadClient,
  modelsDir,
  rssMb,
  startService,
  startTestRedis,
  uniquePrefix,
  type Reply,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';

const MiB = 1024 * 1024;
const BUDGET_MB = 64;
const FRAME_MB = 8;
/**
 * RSS the edge may add beyond the budget: read buffers of stopped sockets, V8 heap, allocator slack
 * (measured 22–35 MB; docs/benchmarks.md, "Memory under attack").
 */
const OVERHEAD_MB = 64;
const WINDOW_MS = 8000;
const ATTACK_MS = 16_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const resultsIn = (log: readonly Reply[], from: number, to: number) =>
  log.filter((r) => r.outcome === 'result' && r.sentAt >= from && r.sentAt < to).length;

/**
 * 64 sockets from 8 loopback addresses, each holding one unfinished message of MAX_FRAME_BYTES and
 * starting another whenever it is cut off (512 MiB offered), against an edge with a 64 MiB
 * MAX_UNFINISHED_BYTES: memory stays within the budget, and a camera beside them keeps its rate.
 */
describe('edge memory under unfinished messages', () => {
  let redis: TestRedis;
  const prefix = uniquePrefix('mem');
  const procs: ServiceProcess[] = [];
  let edge: ServiceProcess;
  let url: string;

  beforeAll(async () => {
    redis = await startTestRedis();
    const common = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') };
    procs.push(await startService('worker', common));
    edge = await startService('edge', {
      ...common,
      MAX_UNFINISHED_BYTES: String(BUDGET_MB * MiB),
      MAX_FRAME_BYTES: String(FRAME_MB * MiB),
    });
    procs.push(edge);
    url = `ws://127.0.0.1:${edge.port}/ws/detect`;
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await cleanupPrefix(redis.url, prefix);
    await redis.stop();
  });

  it(
    'holds edge RSS within MAX_UNFINISHED_BYTES plus overhead, and a camera keeps >= 90 % of its rate',
    { timeout: 90_000 },
    async () => {
      const camera = new LoadClient({
        urls: [url],
        image: readFileSync(join(imageFixturesDir(), 'coffee-1280x720.jpg')),
        intervalMs: 200,
        streamId: 'gate',
      });
      camera.start();
      await sleep(1500);
      const aloneFrom = Date.now();
      let before = 0;
      const baseline = setInterval(() => (before = Math.max(before, rssMb(edge.proc.pid!))), 100);
      await sleep(WINDOW_MS);
      clearInterval(baseline);
      const aloneTo = Date.now();

      let running = true;
      let cutOff = 0;
      const sockets = new Set<WebSocket>();
      const fragment = Buffer.alloc(FRAME_MB * MiB - 1024, 7);
      const holder = (address: string) => {
        if (!running) return;
        const ws = new WebSocket(url, { localAddress: address });
        sockets.add(ws);
        ws.on('open', () => ws.send(fragment, { fin: false }));
        ws.on('error', () => undefined);
        ws.on('close', () => {
          sockets.delete(ws);
          cutOff++;
          setTimeout(() => holder(address), 50);
        });
      };
      for (let i = 0; i < 64; i++) holder(`127.0.0.${1 + (i % 8)}`);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(edge.proc.pid!))), 100);
      await sleep(1500);
      const attackFrom = Date.now();
      // Past MESSAGE_TIMEOUT_MS (10 s): the stalled are reaped, and reconnect to stall again.
      await sleep(ATTACK_MS);
      const attackTo = Date.now();
      clearInterval(sampler);
      running = false;
      for (const ws of sockets) ws.terminate();
      const books = await camera.stop(5000);

      const alone = resultsIn(books.replies, aloneFrom, aloneTo);
      const attacked = resultsIn(books.replies, attackFrom, attackTo);
      console.log(
        'edge memory:',
        JSON.stringify({
          rssBeforeMb: before,
          rssPeakMb: peak,
          growthMb: peak - before,
          budgetMb: BUDGET_MB,
          cutOff,
          alone,
          attacked,
        }),
      );
      // The budget was reached and enforced: connections over their share were stopped.
      expect(edge.logs.some((l) => l['kind'] === 'unfinished-budget')).toBe(true);
      expect(peak - before).toBeLessThanOrEqual(BUDGET_MB + OVERHEAD_MB);
      expect(alone).toBeGreaterThan(0.8 * (WINDOW_MS / 200));
      expect(attacked).toBeGreaterThanOrEqual(0.9 * alone * (ATTACK_MS / WINDOW_MS));
      expect(books.unanswered).toEqual([]);
    },
  );
});
