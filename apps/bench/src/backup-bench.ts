import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { processEnv } from '@vision/config';
import { repoRoot, startPersistentRedis } from '@vision/testing';
import { percentile } from './stats';

/**
 * `npm run bench:backup -- [events] [runs]`: times `npm run backup` and `npm run restore` of a site
 * holding `events` events (default 100 000) on its 8 events streams, on a redis-server of its own
 * (no persistence, so disk writes of Redis do not enter the times). Each run backs up, wipes the
 * keys, and restores into the now empty site.
 */
const exec = promisify(execFile);
const SHARDS = 8;
const PREFIX = 'bench';

async function fill(redis: Redis, events: number): Promise<void> {
  for (let start = 0; start < events; start += 5000) {
    const pipe = redis.pipeline();
    for (let i = start; i < Math.min(events, start + 5000); i++) {
      const camera = `cam-${i % 64}`;
      const event = {
        kind: 'line.cross',
        camera,
        rule: 'gate',
        track: i,
        cls: 'person',
        dir: 'in',
        ts: 1_796_000_000_000 + i,
      };
      pipe.xadd(
        `${PREFIX}:events:stream:${i % SHARDS}`,
        '*',
        'id',
        `e-${i}`,
        'camera',
        camera,
        'kind',
        event.kind,
        'event',
        JSON.stringify(event),
      );
    }
    await pipe.exec();
  }
}

async function timed(tool: 'backup' | 'restore', args: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  await exec(process.execPath, [join(repoRoot(), 'apps', 'tools', 'dist', `${tool}.js`), ...args], {
    env: { PATH: processEnv()['PATH'] ?? '', ...env },
    maxBuffer: 16 * 1024 * 1024,
  });
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const events = Number(process.argv[2] ?? 100_000);
  const runs = Number(process.argv[3] ?? 3);
  const server = await startPersistentRedis(['--appendonly', 'no', '--save', '']);
  const redis = new Redis(server.url);
  const dir = mkdtempSync(join(tmpdir(), 'backup-bench-'));
  const env = { REDIS_URL: server.url, REDIS_PREFIX: PREFIX };
  const times = { backup: [] as number[], restore: [] as number[] };
  let bytes = 0;
  try {
    await fill(redis, events);
    for (let run = 0; run < runs; run++) {
      const file = join(dir, `run-${run}.vbackup`);
      times.backup.push(await timed('backup', ['--out', file, '--dotenv', join(dir, 'none.env')], env));
      bytes = statSync(file).size;
      const keys = await redis.keys(`${PREFIX}:*`);
      await redis.del(...keys);
      times.restore.push(await timed('restore', ['--from', file, '--dotenv', join(dir, `restored-${run}.env`)], env));
      const restored = (
        await Promise.all(Array.from({ length: SHARDS }, (_, s) => redis.xlen(`${PREFIX}:events:stream:${s}`)))
      ).reduce((a, b) => a + b, 0);
      if (restored !== events) throw new Error(`run ${run}: ${restored} events restored of ${events}`);
    }
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const line = (name: string, ms: number[]) =>
    `${name}: median ${percentile(ms, 50).toFixed(0)} ms (min ${Math.min(...ms).toFixed(0)}, ` +
    `max ${Math.max(...ms).toFixed(0)}; runs ${ms.map((m) => m.toFixed(0)).join(', ')})`;
  console.log(`${events} events on ${SHARDS} streams; backup file ${bytes} bytes`);
  console.log(line('backup', times.backup));
  console.log(line('restore', times.restore));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
