import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFixturesDir, startTestRedis, uniquePrefix, type TestRedis } from '@vision/testing';
import {
  frameWindowKeys,
  FrameWindowReader,
  FrameWindowWriter,
  parsePolicy,
  type FrameWindowOutcome,
  type FrameWindowPolicy,
  type WindowFrame,
} from '../src';

const photo = readFileSync(join(imageFixturesDir(), 'coffee-1280x720.jpg'));
const KiB = 1024;
const MiB = 1024 * KiB;

/** Puts frames the way the worker transport does: queued into one MULTI, outcomes last. */
async function put(redis: Redis, writer: FrameWindowWriter, frames: WindowFrame[], now = Date.now()) {
  const pipe = redis.multi();
  const queued = writer.queue(pipe, frames, now);
  const replies = (await pipe.exec()) ?? [];
  return replies.slice(replies.length - queued).map(([, outcome]) => outcome as FrameWindowOutcome);
}

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);

describe('frame window: frames of cameras with rules, bounded in time, per camera and in total', () => {
  let server: TestRedis;
  let redis: Redis;

  beforeAll(async () => {
    // A Redis of its own: the memory measurement must see nothing else.
    server = await startTestRedis({ own: true });
    redis = new Redis(server.url);
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  async function windowFor(policy: FrameWindowPolicy) {
    const prefix = uniquePrefix('fw');
    const reader = new FrameWindowReader(redis, prefix);
    await reader.publish(policy, 60_000);
    const writer = new FrameWindowWriter(redis, prefix);
    await writer.start();
    writer.stop();
    return { prefix, reader, writer, keys: frameWindowKeys(prefix) };
  }

  it('with 16 cameras with rules and 16 without, holds within its bytes, and the others add nothing', async () => {
    const ruled = Array.from({ length: 16 }, (_, i) => `ruled-${i}`);
    const plain = Array.from({ length: 16 }, (_, i) => `plain-${i}`);
    const policy = { cameras: ruled, windowMs: 60_000, cameraBytes: MiB, totalBytes: 12 * MiB };
    const { prefix, reader, writer } = await windowFor(policy);
    const start = Date.now();

    // Cameras without rules first, alone: what they cost the frames Redis.
    const before = await usedMemory(redis);
    for (let frame = 1; frame <= 30; frame++)
      expect(
        await put(
          redis,
          writer,
          plain.map((camera) => ({ camera, frame, captureTs: start + frame, image: photo })),
        ),
      ).toEqual([]);
    const plainDelta = (await usedMemory(redis)) - before;
    expect(await redis.keys(`${prefix}:*`)).toEqual([`${prefix}:evidence:policy`]);

    const outcomes: FrameWindowOutcome[] = [];
    for (let frame = 1; frame <= 30; frame++)
      outcomes.push(
        ...(await put(
          redis,
          writer,
          [...ruled, ...plain].map((camera) => ({ camera, frame, captureTs: start + frame, image: photo })),
          start + frame,
        )),
      );
    const held = await reader.held();
    const ruledDelta = (await usedMemory(redis)) - before;
    console.log(
      'frame window:',
      JSON.stringify({
        photoBytes: photo.length,
        held: held.total,
        plainDelta,
        ruledDelta,
        totalBytes: policy.totalBytes,
      }),
    );
    // 16 windows of at most 1 MiB would be 16 MiB: the 12 MiB total is what binds.
    expect(outcomes).toContain('full');
    expect(outcomes.filter((o) => o === 'kept').length).toBeGreaterThan(0);
    expect(held.total).toBeLessThanOrEqual(policy.totalBytes);
    expect(held.total).toBeGreaterThan(policy.totalBytes - policy.cameraBytes);
    expect(Object.keys(held.cameras).sort()).toEqual([...ruled].sort());
    for (const bytes of Object.values(held.cameras)) expect(bytes).toBeLessThanOrEqual(policy.cameraBytes);
    expect(held.total).toBe(Object.values(held.cameras).reduce((a, b) => a + b, 0));
    // Only the ruled cameras have keys; what Redis holds is the frames plus bookkeeping.
    const keys = await redis.keys(`${prefix}:evidence:*`);
    expect(keys.filter((k) => k.includes('plain-'))).toEqual([]);
    // jemalloc rounds each frame up to its size class: docs/benchmarks.md#snapshots has the measured overhead.
    expect(ruledDelta).toBeLessThan(policy.totalBytes * 1.4);
    // The frames of cameras without rules were never kept (what Redis grew by is allocator noise).
    expect(plainDelta).toBeLessThan(photo.length);
  });

  it('drops frames past the window, and a silent camera leaves the total', async () => {
    const { reader, writer, keys } = await windowFor({
      cameras: ['a', 'b'],
      windowMs: 1000,
      cameraBytes: 4 * MiB,
      totalBytes: 8 * MiB,
    });
    const t = 1_000_000;
    const frame = (camera: string, n: number): WindowFrame => ({ camera, frame: n, captureTs: t + n, image: photo });
    expect(await put(redis, writer, [frame('a', 1), frame('a', 2), frame('b', 1)], t)).toEqual([
      'kept',
      'kept',
      'kept',
    ]);
    // A frame re-run after a crash is not kept twice.
    expect(await put(redis, writer, [frame('a', 2)], t + 10)).toEqual(['repeat']);
    expect((await reader.held()).total).toBe(3 * photo.length);
    expect(await reader.frame('a', 1, t + 1)).toEqual(photo);

    // Past the window: a's new frame pushes its old ones out; b, silent, leaves with them.
    expect(await put(redis, writer, [frame('a', 3)], t + 1500)).toEqual(['kept']);
    const held = await reader.held();
    expect(held).toEqual({ total: photo.length, cameras: { a: photo.length } });
    expect(await reader.frame('a', 1, t + 1)).toBeUndefined();
    expect(await redis.exists(keys.frames('b'), keys.order('b'))).toBe(0);
  });

  it('keeps a camera within its own bytes, oldest out first, and refuses a frame above them', async () => {
    const { reader, writer } = await windowFor({
      cameras: ['a'],
      windowMs: 60_000,
      cameraBytes: 2 * photo.length + 10,
      totalBytes: 64 * MiB,
    });
    const t = Date.now();
    for (let n = 1; n <= 5; n++)
      await put(redis, writer, [{ camera: 'a', frame: n, captureTs: t + n, image: photo }], t);
    expect((await reader.held()).total).toBe(2 * photo.length);
    expect(await reader.frame('a', 3, t + 3)).toBeUndefined();
    expect(await reader.frame('a', 4, t + 4)).toEqual(photo);
    const huge = Buffer.alloc(3 * photo.length);
    expect(await put(redis, writer, [{ camera: 'a', frame: 9, captureTs: t + 9, image: huge }], t)).toEqual([
      'too_large',
    ]);
  });

  it('keeps nothing without a policy, and refuses a malformed one', async () => {
    const prefix = uniquePrefix('fw');
    const writer = new FrameWindowWriter(redis, prefix);
    await writer.start();
    writer.stop();
    expect(writer.wants('a')).toBe(false);
    expect(await put(redis, writer, [{ camera: 'a', frame: 1, captureTs: 1, image: photo }])).toEqual([]);
    expect(parsePolicy('{"cameras":["a"],"windowMs":-1,"cameraBytes":1,"totalBytes":1}')).toBeUndefined();
    expect(parsePolicy('not json')).toBeUndefined();
    expect(parsePolicy('{"cameras":[1],"windowMs":1,"cameraBytes":1,"totalBytes":1}')).toBeUndefined();
  });
});
