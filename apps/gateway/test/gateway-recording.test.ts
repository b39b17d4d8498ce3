import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEventsConfig } from '@vision/config';
import { buildClip, cameraDir, listSegments, type ClipResult } from '@vision/recording';
import { encodeMovingSquare, freePort, startService, type ServiceProcess, sleep } from '@vision/testing';
import { alive, gatewayApi, processesWith, waitFor } from './gateway-harness';

const run = promisify(execFile);
const SEGMENT_S = 2;
/** 0.004 h = 14.4 s: long enough to hold an event's window, short enough to watch segments go. */
const RETENTION_HOURS = 0.004;
/** How often the gateway sweeps (libs/gateway/src/record-sweeper.ts). */
const SWEEP_MS = 10_000;

/** The name and size of every segment of a camera, to see whether anything new was written. */
async function written(dir: string, camera: string): Promise<Map<string, number>> {
  return new Map((await listSegments(dir, camera)).map((s) => [s.path, s.bytes]));
}

/** Whether `after` holds a segment `before` did not, or one that grew. */
function wroteMore(before: Map<string, number>, after: Map<string, number>): boolean {
  return [...after].some(([path, bytes]) => !before.has(path) || bytes > before.get(path)!);
}

/**
 * A gateway recording one 1280×720 H.264 camera at 5 fps (a looped file: read by ffmpeg like an RTSP
 * camera) beside one that is not recorded: the event clip the events service would serve, the
 * retention sweep, and recording turned off and the camera removed (no ffmpeg child, no segment).
 */
describe('gateway: recording cameras for event clips', () => {
  let work: string;
  let rec: string;
  let gateway: ServiceProcess;
  let api: ReturnType<typeof gatewayApi>;
  let edgeUrl: string;
  let firstSegment: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'gw-rec-'));
    rec = join(work, 'recordings');
    const clip = await encodeMovingSquare(work, { width: 1280, height: 720, fps: 5, y: 300, speed: 400 }, 'mp4');
    const file = join(work, 'cameras.json');
    writeFileSync(
      file,
      JSON.stringify({
        cameras: [
          { id: 'rec', url: clip, fps: 5, record: true },
          { id: 'plain', url: clip, fps: 5 },
        ],
      }),
    );
    edgeUrl = `ws://127.0.0.1:${await freePort()}/ws/detect`;
    gateway = await startService('gateway', {
      CAMERAS_FILE: file,
      GATEWAY_EDGE_URLS: edgeUrl,
      GATEWAY_RECORD_DIR: rec,
      GATEWAY_RECORD_SEGMENT_SECONDS: String(SEGMENT_S),
      GATEWAY_RECORD_RETENTION_HOURS: String(RETENTION_HOURS),
    });
    api = gatewayApi(gateway);
    await waitFor('both cameras streaming', async () => {
      const cams = await api.cameras();
      return cams.length === 2 && cams.every((c) => c.state === 'streaming') ? true : undefined;
    });
  });

  afterAll(async () => {
    await gateway?.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('gives an event of the recorded camera a clip that plays and spans the configured window', async () => {
    const clipConfig = loadEventsConfig({ EVENTS_CLIP_BEFORE_SECONDS: '3', EVENTS_CLIP_AFTER_SECONDS: '3' }).clip;
    // Ten seconds recorded before the event: more than a clip may hold, so a clip of everything fails.
    await waitFor('five segments', async () => ((await listSegments(rec, 'rec')).length >= 5 ? true : undefined));
    firstSegment = (await listSegments(rec, 'rec'))[0].path;
    const eventAt = Date.now();
    const window = {
      dir: rec,
      camera: 'rec',
      fromMs: eventAt - clipConfig.beforeSeconds * 1000,
      toMs: eventAt + clipConfig.afterSeconds * 1000,
      maxBytes: clipConfig.maxBytes,
      ffmpegPath: clipConfig.ffmpegPath,
      timeoutMs: clipConfig.timeoutMs,
    };
    // Asked at once, the 3 s after the event are still to be recorded: pending, not gone.
    const early = await buildClip(window);
    expect(early.status).toBe('pending');
    const r = await waitFor<ClipResult>(
      'the clip',
      async () => {
        const c = await buildClip(window);
        return c.status === 'ready' ? c : undefined;
      },
      20_000,
      500,
    );
    if (r.status !== 'ready') throw new Error('unreachable');
    expect(r.partial).toBe(false);
    const mp4 = join(work, 'event.mp4');
    writeFileSync(mp4, r.mp4);
    const { stdout } = await run('ffprobe', [
      ...['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,width,height', '-of', 'json', mp4],
    ]);
    const probe = JSON.parse(stdout) as {
      format: { duration: string };
      streams: { codec_name: string; width: number; height: number }[];
    };
    expect(probe.streams.map((s) => [s.codec_name, s.width, s.height])).toEqual([['h264', 1280, 720]]);
    // Whole segments: at most one segment more at each end; the window's start may be missed by up to
    // a segment (segments are named to the second), never more.
    expect(r.fromMs).toBeGreaterThanOrEqual(window.fromMs - SEGMENT_S * 1000 - 1000);
    expect(r.toMs).toBeLessThanOrEqual(window.toMs + SEGMENT_S * 1000 + 1000);
    const seconds = Number(probe.format.duration);
    const span = clipConfig.beforeSeconds + clipConfig.afterSeconds;
    expect(seconds).toBeGreaterThanOrEqual(span - SEGMENT_S);
    expect(seconds).toBeLessThanOrEqual(span + 2 * SEGMENT_S);
    // The camera that does not record has no folder, let alone segments.
    expect(existsSync(cameraDir(rec, 'plain'))).toBe(false);
  });

  it('deletes segments past retention, oldest first, and counts them', async () => {
    const retentionMs = RETENTION_HOURS * 3_600_000;
    await waitFor('the first segment swept', () => (existsSync(firstSegment) ? undefined : true), 30_000, 250);
    const left = await listSegments(rec, 'rec');
    expect(left.length).toBeGreaterThan(0);
    // What is left is within retention, plus one sweep period (10 s) and a segment.
    expect(Math.min(...left.map((s) => s.endMs))).toBeGreaterThanOrEqual(
      Date.now() - retentionMs - SWEEP_MS - SEGMENT_S * 1000,
    );
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`)).text();
    const deleted = /vision_gateway_record_deleted_total\{reason="retention"\} (\d+)/.exec(metrics);
    expect(Number(deleted?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/vision_gateway_record_bytes [1-9]/);
  });

  it('turned off, then removed, a camera leaves no ffmpeg child writing and no further segment', async () => {
    const recording = await api.camera('rec');
    expect(readFileSync(`/proc/${recording.pid}/cmdline`, 'utf8')).toContain(rec);
    const off = await api.call('PATCH', '/v1/cameras/rec', { record: false });
    expect(off.status, off.text).toBe(200);
    expect(alive(recording.pid!)).toBe(false); // reaped before the answer
    const restarted = await waitFor('rec streaming again', async () => {
      const c = await api.camera('rec');
      return c.state === 'streaming' && c.pid !== null && c.pid !== recording.pid ? c : undefined;
    });
    expect(readFileSync(`/proc/${restarted.pid}/cmdline`, 'utf8')).not.toContain(rec);
    const before = await written(rec, 'rec');
    await sleep(2 * SEGMENT_S * 1000);
    expect(wroteMore(before, await written(rec, 'rec'))).toBe(false);
    expect(processesWith(rec)).toEqual([]);

    // On again, then removed: recording resumes, and stops for good with the camera.
    expect((await api.call('PATCH', '/v1/cameras/rec', { record: true })).status).toBe(200);
    await waitFor('recording again', async () => (wroteMore(before, await written(rec, 'rec')) ? true : undefined));
    const pid = (await api.camera('rec')).pid!;
    expect(processesWith(rec)).toEqual([pid]);
    const removed = await api.call('DELETE', '/v1/cameras/rec');
    expect(removed.status).toBe(204);
    expect(alive(pid)).toBe(false);
    expect(processesWith(rec)).toEqual([]);
    const last = await written(rec, 'rec');
    await sleep(2 * SEGMENT_S * 1000);
    expect(wroteMore(last, await written(rec, 'rec'))).toBe(false);
    expect((await api.cameras()).map((c) => c.id)).toEqual(['plain']);
  });

  it('refuses record where it cannot be done: without GATEWAY_RECORD_DIR, and for raw sources', async () => {
    const bad = await api.call('POST', '/v1/cameras', { id: 'pattern', url: 'testsrc://', record: true });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/E_CAMERA_INVALID.*record: testsrc:\/\/ makes raw frames/);
    const file = join(work, 'no-dir.json');
    writeFileSync(
      file,
      JSON.stringify({
        cameras: [
          { id: 'plain', url: '/x.mp4' },
          { id: 'r', url: '/x.mp4', record: true },
        ],
      }),
    );
    const started = startService('gateway', { CAMERAS_FILE: file, GATEWAY_EDGE_URLS: edgeUrl });
    await expect(started).rejects.toThrow(/exited \(1\).*E_CONFIG.*cameras\[1\]\.record: needs GATEWAY_RECORD_DIR/);
  });
});
