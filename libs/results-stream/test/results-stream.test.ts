import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupPrefix, startTestRedis, uniquePrefix, type TestRedis } from '@vision/testing';
import {
  appendResults,
  decodeResultsEntry,
  encodeResultsEntry,
  resultsEntryFromDetections,
  resultsShard,
  resultsStreamKey,
  RESULTS_LIMITS,
  type ResultsEntry,
} from '../src';

const entry: ResultsEntry = {
  camera: 'gate/cam 1 ✓',
  frame: 42,
  ts: 1_700_000_000_123.5,
  model: 'colors-v8',
  w: 1280,
  h: 720,
  conf: 0.25,
  dets: [
    [10.123, 20.456, 110.789, 220.001, 0.91234, 0],
    [300, 310, 340, 400, 0.12, 2],
  ],
  names: { 0: 'red', 2: 'blue' },
};

const fieldsOf = (e: ResultsEntry, patch: Record<string, string> = {}) => {
  const f = encodeResultsEntry(e);
  for (const [k, v] of Object.entries(patch)) f[f.indexOf(k) + 1] = v;
  return f;
};

describe('results entries', () => {
  it('round-trip with coordinates at 2 decimals and scores at 3', () => {
    const got = decodeResultsEntry(encodeResultsEntry(entry));
    expect(got).toEqual({
      ok: true,
      entry: {
        ...entry,
        dets: [
          [10.12, 20.46, 110.79, 220, 0.912, 0],
          [300, 310, 340, 400, 0.12, 2],
        ],
      },
    });
  });

  it('build from worker detections, and frames without a camera are not entries', () => {
    const detections = [{ xmin: 1, ymin: 2, xmax: 3, ymax: 4, confidence: 0.5, class: 7, name: 'car' }];
    const base = { frame: 1, ts: 5, model: 'm', w: 10, h: 10, conf: 0.25, detections };
    expect(resultsEntryFromDetections({ ...base, camera: undefined })).toBeUndefined();
    expect(resultsEntryFromDetections({ ...base, camera: 'c' })).toEqual({
      camera: 'c',
      frame: 1,
      ts: 5,
      model: 'm',
      w: 10,
      h: 10,
      conf: 0.25,
      dets: [[1, 2, 3, 4, 0.5, 7]],
      names: { 7: 'car' },
    });
  });

  it.each([
    ['camera missing', encodeResultsEntry(entry).slice(2), /camera: missing/],
    ['odd field list', ['camera'], /key\/value/],
    ['frame not an integer', fieldsOf(entry, { frame: '1.5' }), /frame/],
    ['ts not a number', fieldsOf(entry, { ts: 'soon' }), /ts/],
    ['w zero', fieldsOf(entry, { w: '0' }), /w:/],
    ['conf above 1', fieldsOf(entry, { conf: '1.5' }), /conf/],
    ['model with a slash', fieldsOf(entry, { model: 'a/b' }), /model/],
    ['camera with a newline', fieldsOf(entry, { camera: 'a\nb' }), /camera/],
    ['camera too long', fieldsOf(entry, { camera: 'x'.repeat(256) }), /camera/],
    ['dets not JSON', fieldsOf(entry, { dets: '[[1,2' }), /unparsable/],
    ['dets row of five', fieldsOf(entry, { dets: '[[1,2,3,4,0.5]]' }), /dets\[0\]: not six numbers/],
    ['dets inverted box', fieldsOf(entry, { dets: '[[5,2,3,4,0.5,0]]' }), /corners/],
    ['dets unnamed class', fieldsOf(entry, { dets: '[[1,2,3,4,0.5,9]]' }), /class 9 has no name/],
    ['dets score 2', fieldsOf(entry, { dets: '[[1,2,3,4,2,0]]' }), /score/],
    ['names an array', fieldsOf(entry, { names: '["red"]' }), /names: not an object/],
    ['names key not an id', fieldsOf(entry, { names: '{"01":"red"}' }), /not a class id/],
    [
      'too many rows',
      fieldsOf(entry, {
        dets: JSON.stringify(Array.from({ length: RESULTS_LIMITS.maxDetections + 1 }, () => [1, 2, 3, 4, 0.5, 0])),
      }),
      /too many rows|too large/,
    ],
    ['oversized dets', fieldsOf(entry, { dets: ' '.repeat(RESULTS_LIMITS.detsBytes + 1) }), /too large/],
  ])('refuse %s with a reason, without throwing', (_label, fields, reason) => {
    const got = decodeResultsEntry(fields);
    expect(got.ok).toBe(false);
    if (!got.ok) expect(got.reason).toMatch(reason);
  });

  it('shard by FNV-1a 32 of the camera id', () => {
    // FNV-1a("a") = 0xe40c292c, FNV-1a("foobar") = 0xbf9cf968: the published test vectors.
    expect(resultsShard('a', 2 ** 31)).toBe(0xe40c292c % 2 ** 31);
    expect(resultsShard('foobar', 1000)).toBe(0xbf9cf968 % 1000);
    expect(resultsStreamKey('vision', 3)).toBe('vision:results:3');
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 800; i++) counts[resultsShard(`cam-${i}`, 8)]++;
    expect(Math.min(...counts)).toBeGreaterThan(50);
  });
});

describe('appendResults on a real Redis', () => {
  let redis: TestRedis;
  let r: Redis;
  const prefix = uniquePrefix('results');

  beforeAll(async () => {
    redis = await startTestRedis();
    r = new Redis(redis.url);
  });
  afterAll(async () => {
    r.disconnect();
    await cleanupPrefix(redis.url, prefix);
    await redis.stop();
  });

  it('writes each entry to its camera shard, capped near maxLen', async () => {
    const shards = 4;
    const maxLen = 100;
    // Two cameras per shard, ten times the cap each shard: far past any trim.
    const cams: string[][] = Array.from({ length: shards }, () => []);
    for (let i = 0; cams.some((c) => c.length < 2); i++) {
      const s = resultsShard(`cam-${i}`, shards);
      if (cams[s].length < 2) cams[s].push(`cam-${i}`);
    }
    const perShard = 10 * maxLen;
    const entries = Array.from({ length: shards * perShard }, (_, i) => ({
      ...entry,
      camera: cams[i % shards][Math.floor(i / shards) % 2],
      frame: i,
    }));
    for (let i = 0; i < entries.length; i += 500)
      await appendResults(r, prefix, shards, maxLen, entries.slice(i, i + 500));
    // MAXLEN ~ trims whole stream nodes only: at least maxLen stay, and less than one node more.
    const [, nodeEntries] = (await r.config('GET', 'stream-node-max-entries')) as [string, string];
    for (let s = 0; s < shards; s++) {
      const rows = await r.xrange(resultsStreamKey(prefix, s), '-', '+');
      expect(rows.length, `shard ${s}`).toBeGreaterThanOrEqual(maxLen);
      expect(rows.length, `shard ${s}`).toBeLessThan(maxLen + Number(nodeEntries));
      const decoded = rows.map(([, fields]) => decodeResultsEntry(fields));
      for (const d of decoded) {
        expect(d.ok).toBe(true);
        if (d.ok) expect(resultsShard(d.entry.camera, shards)).toBe(s);
      }
      // The oldest entries went, the newest stayed, in order.
      const written = entries.filter((e) => resultsShard(e.camera, shards) === s).map((e) => e.frame);
      expect(decoded.map((d) => (d.ok ? d.entry.frame : -1))).toEqual(written.slice(-rows.length));
    }
  });
});
