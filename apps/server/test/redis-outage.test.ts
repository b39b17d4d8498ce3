import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIMINGS } from '@vision/config';
import { imageFixturesDir, LoadClient, modelsDir, startRedisSite, type RedisSite, sleep } from '@vision/testing';

const OUTAGE_MS = 60_000;

/**
 * Redis gone for 60 s under load: each process says so once, reminds at most once per
 * TIMINGS.outageReminderMs, says when it is back, and logs nothing else about it; the camera is
 * served again afterwards without a restart.
 */
describe('a Redis outage in the logs', () => {
  let site: RedisSite;
  let camera: LoadClient;

  beforeAll(async () => {
    site = await startRedisSite('outage', {
      ownRedis: true,
      env: { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') },
    });
    await site.start('worker');
    const edge = await site.start('edge');
    camera = new LoadClient({
      urls: [`ws://127.0.0.1:${edge.port}/ws/detect`],
      image: readFileSync(join(imageFixturesDir(), 'coffee-640x480.jpg')),
      intervalMs: 100,
    });
    camera.start();
  });

  afterAll(async () => {
    await camera.stop(0);
    await site.stop();
  });

  it(
    'logs the outage once per process, a reminder at most per interval, and the recovery',
    { timeout: 130_000 },
    async () => {
      await expect
        .poll(() => camera.log.filter((r) => r.outcome === 'result').length, { timeout: 10_000 })
        .toBeGreaterThan(5);
      const marks = site.services.map((p) => p.logs.length);
      await site.redis.down();
      const downAt = Date.now();
      await sleep(OUTAGE_MS);
      await site.redis.up();
      const upAt = Date.now();
      await Promise.all(site.services.map((p) => p.waitForLog((l) => l['msg'] === 'redis reachable again', 20_000)));
      await expect
        .poll(() => camera.log.filter((r) => r.outcome === 'result' && r.sentAt > upAt).length, { timeout: 20_000 })
        .toBeGreaterThan(0);
      const allowedReminders = Math.floor(OUTAGE_MS / TIMINGS.outageReminderMs) + 1;
      for (const [i, p] of site.services.entries()) {
        const lines = p.logs.slice(marks[i]).filter((l) => Number(l['level']) >= 40); // warn and above
        const say = (msg: string) => lines.filter((l) => l['msg'] === msg).length;
        console.log(`${p.role} outage lines:`, JSON.stringify(lines.map((l) => l['msg'])));
        expect(say('redis unreachable'), p.role).toBe(1);
        expect(say('redis still unreachable'), p.role).toBeLessThanOrEqual(allowedReminders);
        // Nothing else about the outage: no per-command, per-queue or per-retry lines.
        expect(
          lines.length - say('redis unreachable') - say('redis still unreachable'),
          JSON.stringify(lines.map((l) => l['msg'])),
        ).toBeLessThanOrEqual(1);
        expect(p.logs.slice(marks[i]).filter((l) => l['msg'] === 'redis reachable again')).toHaveLength(1);
      }
      expect(upAt - downAt).toBeGreaterThanOrEqual(OUTAGE_MS);
    },
  );
});
