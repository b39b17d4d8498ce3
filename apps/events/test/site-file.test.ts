import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendResults, resultsShard } from '@vision/results-stream';
import {
  cleanupPrefix,
  startService,
  startTestRedis,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';
import { frames, waitFor } from './harness';

const SHARDS = 8;
const gate = { id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.05] };
const dock = {
  id: 'dock',
  type: 'zone',
  polygon: [
    [0, 0],
    [0.2, 0],
    [0.2, 0.2],
  ],
};
const site = (rules: unknown[]) =>
  JSON.stringify({ models: { synthetic: ['person', 'car'] }, cameras: { 'cam-1': { model: 'synthetic', rules } } });

describe('events service: a site file that cannot be parsed at run time', () => {
  let redis: TestRedis;
  let r: Redis;
  let svc: ServiceProcess;
  let siteFile: string;
  let prefix: string;

  beforeEach(async () => {
    prefix = uniquePrefix('site-file');
    redis = await startTestRedis();
    r = new Redis(redis.url);
    siteFile = join(mkdtempSync(join(tmpdir(), 'site-')), 'site.json');
    writeFileSync(siteFile, site([gate]));
    svc = await startService('events', {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RESULTS_SHARDS: String(SHARDS),
      EVENTS_SITE_FILE: siteFile,
      EVENTS_SITE_POLL_MS: '100',
      EVENTS_REORDER_MS: '200',
    });
  });

  afterEach(async () => {
    await svc?.kill('SIGKILL');
    r?.disconnect();
    await cleanupPrefix(redis.url, prefix);
    await redis?.stop();
  });

  const ruleIds = async () => {
    const res = await fetch(`http://127.0.0.1:${svc.port}/v1/events/cameras/cam-1/rules`);
    return ((await res.json()) as { rules: { id: string }[] }).rules.map((x) => x.id);
  };
  const crossings = async () =>
    (await r.xrange(`${prefix}:events:stream:${resultsShard('cam-1', SHARDS)}`, '-', '+')).filter(([, f]) =>
      f.includes('line.cross'),
    ).length;

  it('keeps the last good rules while the file is half written (E_BAD_RULE), then takes the whole file', async () => {
    // An editor or deploy tool caught mid-write: the first half of the new file.
    const next = site([gate, dock]);
    writeFileSync(siteFile, next.slice(0, next.length >> 1));
    const refused = await svc.waitForLog((l) => l['msg'] === 'site file refused; the last good one stays', 5000);
    expect(refused).toMatchObject({ code: 'E_BAD_RULE', field: '(root)', file: siteFile });
    expect(String(refused['err'])).toMatch(/not valid JSON/);

    // The last good rules still make events.
    expect(await ruleIds()).toEqual(['gate']);
    const walk = frames(
      'cam-1',
      [{ cls: 0, w: 50, h: 120, a: [300, 600], b: [900, 600], f0: 0, f1: 29 }],
      30,
      Date.now(),
      10,
    );
    await appendResults(r, prefix, SHARDS, 1000, walk);
    await waitFor('the crossing by the kept rule', crossings, (n) => n === 1);

    // The write completes within the same tick of the file system's clock: the mtime stays what it was.
    // (`touch -r` copies the times to the nanosecond, as that tick would have left them.)
    const stamp = `${siteFile}.stamp`;
    execFileSync('touch', ['-r', siteFile, stamp]);
    const halfMtime = statSync(siteFile, { bigint: true }).mtimeNs;
    writeFileSync(siteFile, next);
    execFileSync('touch', ['-r', stamp, siteFile]);
    expect(statSync(siteFile, { bigint: true }).mtimeNs).toBe(halfMtime);
    await waitFor('the finished file', ruleIds, (ids) => ids.join() === 'gate,dock', 5000);
    expect(svc.logs.filter((l) => l['msg'] === 'site file loaded')).toHaveLength(2);
  });
});
