import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeMovingSquare,
  modelsDir,
  signTestToken,
  startRedisSite,
  TEST_JWT_SECRET,
  type MovingSquare,
  type RedisSite,
  type ServiceProcess,
} from '@vision/testing';
import { waitFor } from './harness';

/**
 * A red square walking across 1280×720 in 3.8 s, looped: one 64 px step a frame at 5 fps, on the
 * fixture detector's grid (its cells are 64 px of a 1280-wide frame), so it is seen whole in every frame.
 */
const SQUARE: MovingSquare = { width: 1280, height: 720, fps: 5, y: 360, speed: 320 };
const CAMERA = 'yard-cam';

/** The clip around an event: this much before its capture time and after (short: the test waits for the end). */
const CLIP_SECONDS = 2;

const isRed = (d: Buffer, i: number) => d[i] > 160 && d[i + 1] < 90 && d[i + 2] < 90;

/**
 * Snapshots of a gateway camera: the gateway pulls a looped H.264 clip with ffmpeg and streams its
 * frames (JPEG) through an edge and a worker; the events service stores the crossing's frame.
 */
describe('snapshots: gateway -> edge -> worker (frame window) -> events -> snapshot API', () => {
  let site: RedisSite;
  let events: ServiceProcess;
  let crossing: Record<string, unknown>;
  const get = async (path: string) =>
    fetch(`http://127.0.0.1:${events.port}${path}`, {
      headers: { authorization: `Bearer ${await signTestToken({ sub: 'ops', scope: 'events:read' })}` },
    });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snap-gw-'));
    const clip = await encodeMovingSquare(dir, SQUARE, 'mp4');
    site = await startRedisSite('snap-gw', { env: { AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET } });
    const siteFile = join(dir, 'site.json');
    // The square crosses the gate once a pass.
    const gate = { id: 'gate', type: 'line', units: 'px', from: [640, 720], to: [640, 0], classes: ['red'] };
    const site_ = {
      models: { default: ['red', 'green', 'blue'] },
      cameras: { [CAMERA]: { model: 'default', rules: [gate] } },
    };
    writeFileSync(siteFile, JSON.stringify(site_));
    const camerasFile = join(dir, 'cameras.json');
    writeFileSync(camerasFile, JSON.stringify({ cameras: [{ id: CAMERA, url: clip, fps: SQUARE.fps, record: true }] }));
    // The gateway records into the folder the events service makes clips from (a shared volume on a site).
    const recordings = join(dir, 'recordings');
    [events] = await Promise.all([
      site.start('events', {
        EVENTS_SITE_FILE: siteFile,
        EVENTS_SNAPSHOT_DIR: join(dir, 'snapshots'),
        // The square jumps its own width a frame: at 5 fps its widened boxes overlap by IoU 0.17 only.
        EVENTS_TRACK_MATCH_IOU: '0.15',
        EVENTS_RECORD_DIR: recordings,
        EVENTS_CLIP_BEFORE_SECONDS: String(CLIP_SECONDS),
        EVENTS_CLIP_AFTER_SECONDS: String(CLIP_SECONDS),
      }),
      site.start('worker', { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'), INTRA_OP_THREADS: '1' }),
    ]);
    const edge = await site.start('edge');
    await site.start('gateway', {
      CAMERAS_FILE: camerasFile,
      GATEWAY_RECORD_DIR: recordings,
      GATEWAY_EDGE_URLS: `ws://127.0.0.1:${edge.port}/ws/detect`,
    });
    const recent = await waitFor(
      'a crossing',
      async () =>
        ((await (await get(`/v1/events/recent?camera=${CAMERA}`)).json()) as { events: Record<string, unknown>[] })
          .events,
      (e) => e.some((x) => x['kind'] === 'line.cross'),
      30_000,
    );
    crossing = recent.find((x) => x['kind'] === 'line.cross')!;
  });

  afterAll(() => site?.stop());

  it("stores the frame the crossing was computed from: the event's box is on the square in it", async () => {
    const res = await waitFor(
      'the stored snapshot',
      () => get(String(crossing['snapshot'])),
      (r) => r.status !== 503,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-vision-frame')).toBe(String(crossing['frame']));
    const shown = await sharp(Buffer.from(await res.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([shown.info.width, shown.info.height]).toEqual([SQUARE.width, SQUARE.height]);
    // The square moves its own width a frame: in another frame the box would be grey. (The event's box is
    // the track's filtered box, which may trail the square by a few pixels.)
    const [x1, y1, x2, y2] = (crossing['box'] as number[]).map(Math.round);
    let red = 0;
    for (let y = y1 + 2; y < y2 - 2; y++)
      for (let x = x1 + 2; x < x2 - 2; x++)
        if (isRed(shown.data, (y * shown.info.width + x) * shown.info.channels)) red++;
    expect(red / ((x2 - x1 - 4) * (y2 - y1 - 4))).toBeGreaterThan(0.5);

    const crop = await get(`${String(crossing['snapshot'])}?crop=true`);
    const cropped = await sharp(Buffer.from(await crop.arrayBuffer())).metadata();
    expect(Math.abs(cropped.width! - (x2 - x1))).toBeLessThanOrEqual(2);
    expect(Math.abs(cropped.height! - (y2 - y1))).toBeLessThanOrEqual(2);
  });

  it("serves the event's clip from the gateway's recording: an H.264 MP4 spanning the window", async () => {
    const clipPath = `/v1/events/${String(crossing['id'])}/clip`;
    const first = await get(clipPath);
    if (first.status !== 200) {
      // Asked before the camera has recorded the window's end: retryable, with when to ask again.
      expect(first.status).toBe(503);
      expect(((await first.json()) as { error: { code: string } }).error.code).toBe('E_CLIP_PENDING');
      expect(Number(first.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    const res = await waitFor(
      'the clip',
      () => get(clipPath),
      (r) => r.status !== 503,
      20_000,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    const mp4 = Buffer.from(await res.arrayBuffer());
    const dir = mkdtempSync(join(tmpdir(), 'clip-'));
    writeFileSync(join(dir, 'clip.mp4'), mp4);
    const { stdout } = await promisify(execFile)('ffprobe', [
      ...['-v', 'error', '-select_streams', 'v:0'],
      ...['-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', join(dir, 'clip.mp4')],
    ]);
    const probe = JSON.parse(stdout) as {
      streams: { codec_name: string; width: number; height: number }[];
      format: { duration: string };
    };
    expect(probe.streams[0]).toEqual({ codec_name: 'h264', width: SQUARE.width, height: SQUARE.height });
    // Whole segments (GATEWAY_RECORD_SEGMENT_SECONDS, 2 s): up to one more at each end of the window.
    const duration = Number(probe.format.duration);
    expect(duration).toBeGreaterThanOrEqual(2 * CLIP_SECONDS - 2);
    expect(duration).toBeLessThanOrEqual(2 * CLIP_SECONDS + 4);

    const unknown = await get('/v1/events/ev_CCCCCCCCCCCCCCCCCCCCCC/clip');
    expect(unknown.status).toBe(404);
  }, 40_000);
});
