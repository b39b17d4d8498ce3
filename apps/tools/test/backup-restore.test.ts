import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRevocations } from '@vision/auth';
import { BulkJobs, jobQueueName } from '@vision/bulk';
import { loadConfig } from '@vision/config';
import { appendResults, type DetRow, type ResultsEntry } from '@vision/results-stream';
import {
  cleanupPrefix,
  COLORS,
  drawScene,
  modelsDir,
  repoRoot,
  signTestToken,
  startService,
  startTestRedis,
  TEST_JWT_SECRET,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';
import { rewriteBackup } from './backup-fixtures';

const exec = promisify(execFile);
const tool = (name: string, args: string[], env: Record<string, string>) =>
  exec(process.execPath, [join(repoRoot(), 'apps', 'tools', 'dist', `${name}.js`), ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
const gate = { id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.05] };
const bay = {
  type: 'zone',
  polygon: [
    [0.6, 0.5],
    [0.9, 0.5],
    [0.9, 0.95],
    [0.6, 0.95],
  ],
  classes: ['person'],
};

/** `walkers` people crossing the gate of `camera` left to right one after another, at 10 fps. */
function crossings(camera: string, walkers: number, t0: number): ResultsEntry[] {
  const walk = 30;
  const gap = 20;
  return Array.from({ length: walkers * (walk + gap) }, (_, i) => {
    const step = i % (walk + gap);
    const x = 300 + step * 14;
    const dets: DetRow[] = step < walk ? [[x - 25, 480, x + 25, 600, 0.9, 0]] : [];
    const names = { 0: 'person', 1: 'car' };
    return { camera, frame: i + 1, ts: t0 + i * 100, model: 'synthetic', w: 1280, h: 720, conf: 0.25, dets, names };
  });
}

/**
 * A site's state through `npm run backup`, a wipe and `npm run restore`, with the real events
 * service and bulk jobs: what the API served before, it serves after, and a restored job runs.
 */
describe('backup and restore', () => {
  let redis: TestRedis;
  let r: Redis;
  const prefix = uniquePrefix('backup');
  const dir = mkdtempSync(join(tmpdir(), 'backup-'));
  const files = { site: join(dir, 'site.json'), cameras: join(dir, 'cameras.json'), env: join(dir, '.env') };
  const site = { EVENTS_SITE_FILE: files.site, CAMERAS_FILE: files.cameras };
  const common = { REDIS_URL: '', REDIS_PREFIX: prefix };
  let backupFile: string;
  let backupSaid: string;
  let before: Record<string, unknown>;
  let job: { id: string; tenant: string };

  const startEvents = () =>
    startService('events', {
      ...common,
      ...site,
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
      EVENTS_REORDER_MS: '100',
    });
  const read = async (events: ServiceProcess) => {
    const token = await signTestToken({ sub: 'ops', scope: 'events:read' });
    const get = async (path: string) =>
      (await fetch(`http://127.0.0.1:${events.port}/v1/events${path}`, {
        headers: { authorization: `Bearer ${token}` },
      }).then((res) => res.json())) as Record<string, unknown>;
    return {
      rules: await get('/cameras/cam-1/rules'),
      counts: await get('/cameras/cam-1/counts'),
      recent: await get('/recent?camera=cam-1&limit=100'),
    };
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    common.REDIS_URL = redis.url;
    r = new Redis(redis.url);
    writeFileSync(
      files.site,
      JSON.stringify({
        models: { synthetic: ['person', 'car'] },
        cameras: { 'cam-1': { model: 'synthetic', rules: [gate] } },
      }),
    );
    writeFileSync(files.cameras, JSON.stringify({ cameras: [{ id: 'cam-1', url: 'rtsp://cam-1.example/stream' }] }));
    writeFileSync(files.env, `JWT_SECRET=${TEST_JWT_SECRET}\n`, { mode: 0o600 });

    const events = await startEvents();
    try {
      await appendResults(r, prefix, 8, 10_000, crossings('cam-1', 3, Date.now()));
      const write = await signTestToken({ sub: 'ops', scope: 'events:write' });
      await waitUntil(async () => {
        const res = await fetch(`http://127.0.0.1:${events.port}/v1/events/cameras/cam-1/rules/bay`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${write}`, 'content-type': 'application/json' },
          body: JSON.stringify(bay),
        });
        return res.status === 200;
      });
      await waitUntil(async () => {
        const seen = await read(events);
        return (seen.recent['events'] as unknown[]).length >= 6;
      });
      // The checkpoint is written at least every EVENTS_CHECKPOINT_MS (1 s): let it catch up.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      before = await read(events);
    } finally {
      await events.kill('SIGKILL');
    }
    const revocations = new RedisRevocations({ target: redis.url, prefix });
    await revocations.revoke('revoked-jti', Date.now() + 86_400_000);
    await revocations.close();
    const jobs = new BulkJobs(redis.url, prefix, loadConfig({}).bulk);
    const image = await drawScene({ width: 320, height: 240, background: COLORS.grey, format: 'jpeg' });
    job = { id: await jobs.reserve('sub:app', 'default', image.length), tenant: 'sub:app' };
    await jobs.putImage(job.id, 0, image);
    await jobs.submit(job.id, 'default', 1, image.length, undefined);
    await jobs.close();
    const { stdout, stderr } = await tool('backup', ['--out', dir, '--dotenv', files.env], {
      ...common,
      ...site,
    });
    backupFile = stdout.trim();
    backupSaid = stderr;
  });

  afterAll(async () => {
    r?.disconnect();
    await cleanupPrefix(redis.url, prefix);
    await redis?.stop();
  });

  it('gives back rules, counts, events, a revocation, a queued job and the files after a wipe', async () => {
    expect(backupSaid).toMatch(
      /6 events, 1 API rules, counts of 1 cameras, \d+ checkpoints, 1 revocations, 1 bulk jobs/,
    );
    const saved = Object.fromEntries(Object.values(files).map((f) => [f, readFileSync(f)]));
    await cleanupPrefix(redis.url, prefix);
    for (const f of Object.values(files)) rmSync(f);

    const restored = await tool('restore', ['--from', backupFile, '--dotenv', files.env], { ...common, ...site });
    expect(JSON.parse(restored.stdout)).toMatchObject({
      restored: { events: 6, rules: 1, revocations: 1, bulkJobs: 1 },
    });
    for (const [f, data] of Object.entries(saved)) expect(readFileSync(f).equals(data), f).toBe(true);

    const events = await startEvents();
    try {
      expect(await read(events)).toEqual(before);
    } finally {
      await events.kill('SIGKILL');
    }
    const list = new RedisRevocations({ target: redis.url, prefix });
    expect(await list.isRevoked('revoked-jti')).toBe(true);
    await list.close();
    // The job is back in its queue: a worker serving the model runs it to the end.
    const worker = await startService('worker', {
      ...common,
      MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
      INTRA_OP_THREADS: '1',
    });
    const jobs = new BulkJobs(redis.url, prefix, loadConfig({}).bulk);
    try {
      // Its connection comes up in the background: a status read before fails fast, and is asked again.
      const state = () => jobs.status(job.id, job.tenant).then((status) => status.state, String);
      await waitUntil(async () => (await state()) === 'completed', 30_000);
      expect((await jobs.status(job.id, job.tenant)).progress).toEqual({ total: 1, done: 1, failed: 0 });
      expect(await jobs.queue(jobQueueName('default')).getWaitingCount()).toBe(0);
    } finally {
      await jobs.close();
      await worker.kill('SIGKILL');
    }
  });

  it('refuses a backup of a newer schema, a corrupt one, and a non-empty target, writing nothing', async () => {
    const target = { ...common, REDIS_PREFIX: uniquePrefix('restore'), EVENTS_SITE_FILE: join(dir, 'fresh-site.json') };
    const restore = (file: string, extra: string[] = []) =>
      tool('restore', ['--from', file, '--dotenv', join(dir, 'fresh.env'), ...extra], target);
    const untouched = async () => {
      expect(await r.keys(`${target.REDIS_PREFIX}:*`)).toEqual([]);
      expect(existsSync(target.EVENTS_SITE_FILE)).toBe(false);
    };

    const newer = rewriteBackup(backupFile, join(dir, 'newer.vbackup'), (m) => ({ ...m, schemaVersion: 99 }));
    await expect(restore(newer)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^restore: E_CONFIG: .*schema version 99/),
    });
    await untouched();

    const bytes = readFileSync(backupFile);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(join(dir, 'flipped.vbackup'), bytes);
    await expect(restore(join(dir, 'flipped.vbackup'))).rejects.toMatchObject({
      stderr: expect.stringContaining('E_BACKUP_INVALID'),
    });
    // Intact as gzip and as JSON, but a key's DUMP no longer passes Redis' own check: the keys before
    // it were staged, and are gone again.
    const badDump = rewriteBackup(
      backupFile,
      join(dir, 'bad-dump.vbackup'),
      (m) => m,
      (key) =>
        key.key.startsWith('events:stream') ? { ...key, dump: Buffer.from('not a dump').toString('base64') } : key,
    );
    await expect(restore(badDump)).rejects.toMatchObject({ stderr: expect.stringContaining('E_BACKUP_INVALID') });
    await untouched();

    await restore(backupFile);
    await expect(restore(backupFile)).rejects.toMatchObject({
      stderr: expect.stringContaining('E_BACKUP_TARGET_NOT_EMPTY'),
    });
    await restore(backupFile, ['--force']);
    await cleanupPrefix(redis.url, target.REDIS_PREFIX);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
