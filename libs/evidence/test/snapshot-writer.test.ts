import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLORS, drawScene, startTestRedis, uniquePrefix, type TestRedis } from '@vision/testing';
import { FrameWindowReader, FrameWindowWriter } from '@vision/frame-window';
import {
  FsSnapshotStore,
  MAX_RECORD_BYTES,
  snapshotKeys,
  SnapshotWriter,
  type SnapshotRecord,
  type SnapshotSubject,
} from '../src';

const subject = (n: number, box: [number, number, number, number]): SnapshotSubject => ({
  id: `ev_${String(n).padStart(22, '0')}`,
  camera: 'cam',
  ts: 1000 + n,
  frame: n,
  box,
});

describe('snapshot writer: frames from the frame window (real Redis) to the store', () => {
  let server: TestRedis;
  let redis: Redis;
  let frames: FrameWindowReader;
  let keep: FrameWindowWriter;
  const outcomes: string[] = [];
  const hooks = { outcome: (o: string) => void outcomes.push(o), stored: () => undefined };
  const options = { maxQueue: 100, maxWidth: undefined, quality: 85, maxInputPixels: 40_000_000 };

  beforeAll(async () => {
    server = await startTestRedis();
    redis = new Redis(server.url);
    const prefix = uniquePrefix('snap');
    frames = new FrameWindowReader(redis, prefix);
    await frames.publish({ cameras: ['cam'], windowMs: 60_000, cameraBytes: 8 << 20, totalBytes: 64 << 20 }, 60_000);
    keep = new FrameWindowWriter(redis, prefix);
    await keep.start();
    keep.stop();
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  async function keepFrame(n: number, image: Buffer) {
    const pipe = redis.multi();
    keep.queue(pipe, [{ camera: 'cam', frame: n, captureTs: 1000 + n, image }]);
    await pipe.exec();
  }

  it('stores the frame scaled down (never up) and the crop of the box at full resolution', async () => {
    const image = await drawScene({
      width: 1280,
      height: 720,
      format: 'png',
      rects: [{ x: 100, y: 200, w: 64, h: 96, color: COLORS.red }],
    });
    await keepFrame(1, image);
    const store = new FsSnapshotStore(mkdtempSync(join(tmpdir(), 'snap-')));
    const writer = new SnapshotWriter(store, { ...options, maxWidth: 640 }, hooks);
    const s = subject(1, [100, 200, 164, 296]);
    expect(await writer.prepare([s])).toEqual([s]);
    writer.enqueue([s], frames);
    await writer.drained();
    const keys = snapshotKeys(s.id);
    const record = JSON.parse(String(await store.get(keys.record, MAX_RECORD_BYTES))) as SnapshotRecord;
    expect(record).toMatchObject({ state: 'stored', width: 640, height: 360, frame: 1 });
    const crop = await sharp(await store.get(keys.crop, 1 << 20)).metadata();
    expect([crop.width, crop.height]).toEqual([64, 96]);
    // A replay of a stored event renders nothing again.
    expect(await writer.prepare([s])).toEqual([]);

    const small = new SnapshotWriter(store, { ...options, maxWidth: 4096 }, hooks);
    await keepFrame(2, image);
    const s2 = subject(2, [100, 200, 164, 296]);
    small.enqueue(await small.prepare([s2]), frames);
    await small.drained();
    const record2 = JSON.parse(String(await store.get(snapshotKeys(s2.id).record, MAX_RECORD_BYTES))) as SnapshotRecord;
    expect([record2.width, record2.height]).toEqual([1280, 720]);
  });

  it('marks a snapshot failed when the window no longer holds its frame', async () => {
    const store = new FsSnapshotStore(mkdtempSync(join(tmpdir(), 'snap-')));
    const writer = new SnapshotWriter(store, options, hooks);
    const s = subject(77, [0, 0, 10, 10]);
    writer.enqueue(await writer.prepare([s]), frames);
    await writer.drained();
    const record = JSON.parse(String(await store.get(snapshotKeys(s.id).record, MAX_RECORD_BYTES))) as SnapshotRecord;
    expect(record).toMatchObject({ state: 'failed', reason: 'frame_gone' });
    expect(outcomes).toContain('frame_gone');
  });

  it('on a full disk counts disk_full, leaves no temporary files, and goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snap-full-'));
    // A real filesystem that fills up: a 64 KiB tmpfs (the tests run as root, like CI).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    try {
      mkdirSync(join(dir, 'filler'));
      try {
        writeFileSync(join(dir, 'filler', 'blob'), Buffer.alloc(128 * 1024));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      const image = await drawScene({ width: 640, height: 480, format: 'jpeg', rects: [] });
      await keepFrame(3, image);
      const store = new FsSnapshotStore(dir);
      const seen: string[] = [];
      const writer = new SnapshotWriter(store, options, { outcome: (o) => void seen.push(o), stored: () => undefined });
      const s = subject(3, [0, 0, 10, 10]);
      writer.enqueue(await writer.prepare([s]), frames);
      await writer.drained();
      expect(seen).toContain('disk_full');
      const leftovers = readdirSync(dir, { recursive: true }).map(String);
      expect(leftovers.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', [dir]);
    }
  });
});
