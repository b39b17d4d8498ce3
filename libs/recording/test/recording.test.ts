import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildClip,
  cameraDir,
  cameraFolder,
  ClipError,
  listSegments,
  RecordingSweeper,
  sweepRecordings,
} from '../src/index';

const run = promisify(execFile);
/** Segment length the fixture is cut at (the gateway's default). */
const SEGMENT_S = 2;
/** Seconds of fixture video: ten segments. */
const CLIP_S = 20;

/** ffprobe's duration of an MP4 held in memory, in seconds. */
async function probeSeconds(dir: string, mp4: Buffer): Promise<{ seconds: number; codec: string; width: number }> {
  const file = join(dir, `probe-${Date.now()}.mp4`);
  writeFileSync(file, mp4);
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,width', '-of', 'json', file],
  ]);
  const j = JSON.parse(stdout) as { format: { duration: string }; streams: { codec_name: string; width: number }[] };
  return { seconds: Number(j.format.duration), codec: j.streams[0].codec_name, width: j.streams[0].width };
}

const clipTemps = () => readdirSync(tmpdir()).filter((n) => n.startsWith('vision-clip-')).length;

/**
 * Real segments, cut by ffmpeg's segment muxer from 20 s of 1280×720 H.264 at 5 fps (a keyframe a
 * second), then named and dated as the gateway's recording would have left them 30 s ago.
 */
describe('recordings: segments, clips, the sweep', () => {
  let work: string;
  let dir: string;
  let t0: number;
  const common = () => ({ dir, camera: 'lobby', maxBytes: 64 * 1024 * 1024, ffmpegPath: 'ffmpeg', timeoutMs: 30_000 });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'recording-test-'));
    dir = join(work, 'rec');
    const folder = cameraDir(dir, 'lobby');
    mkdirSync(folder, { recursive: true });
    const source = join(work, 'source.mp4');
    await run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=5:d=${CLIP_S}`],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '5', '-pix_fmt', 'yuv420p', source],
    ]);
    await run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-i', source, '-map', '0:v:0', '-c:v', 'copy', '-f', 'segment'],
      ...['-segment_format', 'mpegts', '-segment_time', String(SEGMENT_S), '-reset_timestamps', '1'],
      join(folder, 'part-%03d.ts'),
    ]);
    t0 = Math.floor(Date.now() / 1000) - 30;
    const parts = readdirSync(folder).sort();
    expect(parts).toHaveLength(CLIP_S / SEGMENT_S);
    parts.forEach((p, i) => {
      const start = t0 + i * SEGMENT_S;
      const path = join(folder, `${start}.ts`);
      renameSync(join(folder, p), path);
      utimesSync(path, start + SEGMENT_S, start + SEGMENT_S);
    });
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('keep every camera id inside its own folder', () => {
    expect(cameraFolder('lobby-1.east_2')).toBe('lobby-1.east_2');
    expect(cameraFolder('..')).toBe('%2E.');
    expect(cameraFolder('.hidden')).toBe('%2Ehidden');
    expect(cameraFolder('a/../../etc')).toBe('a%2F..%2F..%2Fetc');
    expect(cameraFolder('50%')).toBe('50%25');
    expect(cameraFolder('é')).toBe('%C3%A9');
    expect(() => cameraFolder('')).toThrow(RangeError);
  });

  it('list segments oldest first with their start, end and bytes', async () => {
    const segments = await listSegments(dir, 'lobby');
    expect(segments.map((s) => s.startMs)).toEqual(Array.from({ length: 10 }, (_, i) => (t0 + 2 * i) * 1000));
    expect(segments[0].endMs).toBe((t0 + 2) * 1000);
    expect(segments.every((s) => s.bytes > 10_000)).toBe(true);
    expect(await listSegments(dir, 'nobody')).toEqual([]);
  });

  it('make an MP4 of a window that ffprobe reads and whose length spans the window, leaving no file', async () => {
    const temps = clipTemps();
    const fromMs = (t0 + 5) * 1000 + 300;
    const toMs = fromMs + 8000;
    const r = await buildClip({ ...common(), fromMs, toMs });
    if (r.status !== 'ready') throw new Error(`not ready: ${r.status}`);
    const probe = await probeSeconds(work, r.mp4);
    expect([probe.codec, probe.width]).toEqual(['h264', 1280]);
    // Clips are whole segments: the first starts at most one segment before fromMs and the last ends
    // at most one after toMs (window + 2 segments); a segment's start is named to the second, so the
    // clip may miss at most up to a segment of the window's start (window − 1 segment).
    const window = (toMs - fromMs) / 1000;
    expect(probe.seconds).toBeGreaterThanOrEqual(window - SEGMENT_S);
    expect(probe.seconds).toBeLessThanOrEqual(window + 2 * SEGMENT_S);
    expect([r.fromMs <= fromMs, r.toMs >= toMs, r.partial, r.segments]).toEqual([true, true, false, 5]);
    expect(clipTemps()).toBe(temps);
  });

  it('tell pending (recording, not yet there) from gone (nothing of the window), and bound size and time', async () => {
    const c = common();
    expect(await buildClip({ ...c, fromMs: (t0 - 100) * 1000, toMs: (t0 - 90) * 1000 })).toEqual({ status: 'gone' });
    // Recording stopped 10 s ago: a window past its end is gone, not pending.
    expect(await buildClip({ ...c, fromMs: (t0 + 25) * 1000, toMs: (t0 + 28) * 1000 })).toEqual({ status: 'gone' });
    const partial = await buildClip({ ...c, fromMs: (t0 + 15) * 1000, toMs: (t0 + 25) * 1000 });
    expect(partial.status === 'ready' && partial.partial).toBe(true);
    // The newest segment still being written: the rest of the window is to come.
    const last = (await listSegments(dir, 'lobby')).pop()!;
    const now = Date.now() / 1000;
    utimesSync(last.path, now, now);
    const pending = await buildClip({ ...c, fromMs: Date.now() - 2000, toMs: Date.now() + 5000 });
    expect(pending).toMatchObject({ status: 'pending', recordedUntilMs: expect.any(Number) });
    expect(pending.status === 'pending' && pending.retryAfterMs).toBeGreaterThanOrEqual(1000);
    utimesSync(last.path, last.endMs / 1000, last.endMs / 1000);

    const window = { fromMs: t0 * 1000, toMs: (t0 + 10) * 1000 };
    await expect(buildClip({ ...c, ...window, maxBytes: 100_000 })).rejects.toMatchObject({ reason: 'too-large' });
    const temps = clipTemps();
    const slow = buildClip({ ...c, ...window, timeoutMs: 1 });
    await expect(slow).rejects.toBeInstanceOf(ClipError);
    await expect(slow).rejects.toMatchObject({ reason: 'timeout' });
    expect(clipTemps()).toBe(temps);
    await expect(buildClip({ ...c, ...window, ffmpegPath: join(work, 'no-ffmpeg') })).rejects.toMatchObject({
      reason: 'ffmpeg',
    });
    await expect(buildClip({ ...c, fromMs: 5, toMs: 5 })).rejects.toMatchObject({ reason: 'invalid' });
  });

  it('sweep by age, then oldest first over the byte budget, never a camera’s newest segment', async () => {
    const sweepDir = join(work, 'sweep');
    const now = Math.floor(Date.now() / 1000);
    const make = (camera: string, start: number, bytes: number) => {
      const folder = cameraDir(sweepDir, camera);
      mkdirSync(folder, { recursive: true });
      const path = join(folder, `${start}.ts`);
      writeFileSync(path, Buffer.alloc(bytes));
      utimesSync(path, start + SEGMENT_S, start + SEGMENT_S);
    };
    // a: two an hour old, then three recent; b: three recent, starting later than a's.
    make('a', now - 3600, 1000);
    make('a', now - 3598, 1000);
    for (const s of [now - 20, now - 18, now - 16]) make('a', s, 1000);
    for (const s of [now - 19, now - 17, now - 15]) make('b', s, 1000);
    const starts = async (camera: string) => (await listSegments(sweepDir, camera)).map((s) => s.startMs / 1000 - now);
    const r = await sweepRecordings({ dir: sweepDir, retentionMs: 600_000, maxBytes: 3500 });
    expect(r).toEqual({ files: 3, bytes: 3000, deleted: { retention: 2, budget: 3 }, deletedBytes: 5000, failures: 0 });
    // Oldest first across both cameras: a −20, b −19, a −18 went; each camera keeps its newest.
    expect(await starts('a')).toEqual([-16]);
    expect(await starts('b')).toEqual([-17, -15]);
    const again = await sweepRecordings({ dir: sweepDir, retentionMs: 600_000, maxBytes: 1 });
    expect([again.files, again.deleted.budget]).toEqual([2, 1]);
    expect(await sweepRecordings({ dir: join(work, 'none'), retentionMs: 1, maxBytes: 1 })).toMatchObject({ files: 0 });

    // One sweeper over time remembers closed segments' sizes, and forgets those deleted meanwhile.
    const sweeper = new RecordingSweeper({ dir: sweepDir, retentionMs: 600_000, maxBytes: 10_000 });
    make('a', now - 14, 1000); // a's −16 is closed now
    expect(await sweeper.sweep()).toMatchObject({ files: 3, bytes: 3000, deleted: { retention: 0, budget: 0 } });
    rmSync(join(cameraDir(sweepDir, 'a'), `${now - 16}.ts`));
    make('b', now - 13, 5000);
    expect(await sweeper.sweep()).toMatchObject({ files: 3, bytes: 7000 });
  });
});
