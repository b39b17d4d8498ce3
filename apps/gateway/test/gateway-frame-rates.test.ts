import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeMovingSquare,
  freePort,
  movingSquareJpegs,
  startMjpegServer,
  startRtspServer,
  startService,
  type MovingSquare,
  type ServiceProcess,
  type TestMjpegServer,
  type TestRtspServer,
  sleep,
} from '@vision/testing';
import { gatewayApi, waitFor, type CameraView } from './gateway-harness';

/** Every camera asks for this rate; one source of each kind runs faster, one slower. */
const FPS = 5;
const FAST = 10;
const SLOW = 2;
const SQUARE: Omit<MovingSquare, 'fps'> = { width: 320, height: 180, y: 10, size: 32, speed: 144 };
/** Scaled cameras: half the source's size, so the gateway must read them through ffmpeg. */
const SMALL = { maxWidth: 160, maxHeight: 90 };
/** Percent-encoded in the URL: ffmpeg must take it as one address, not a numbered image pattern. */
const MJPEG_LOGIN = { user: 'viewer', password: 'p@ss:w0rd%' };
const WINDOW_MS = 6000;
/**
 * Delivered rate within −20 % / +15 % of the expected one: ±1 frame of a 6 s window is ±8 % at
 * 2 fps, and the rest is scheduling on 2 busy cores. A rate from the wrong clock is off by far
 * more (MJPEG stamped at ffmpeg's assumed 25 fps: 2 of 5 fps, 0.4 of 2 fps).
 */
const LOW = 0.8;
const HIGH = 1.15;

/**
 * The rate each kind of source delivers at `fps: 5` against a camera sending 10 and 2 frames a
 * second: at most the camera's fps, never more than the source sends, whatever reads it (RTSP over
 * TCP and UDP, rtsps, MJPEG passed through in Node or scaled by ffmpeg, snapshots polled in Node or by
 * ffmpeg, files, the generated test pattern). Frames go to an edge address where nothing listens:
 * the rate is counted where the gateway cuts frames from the source (`framesIn`), before any edge.
 */
describe('gateway: delivered frame rate of every source kind, faster and slower than the camera fps', () => {
  let dir: string;
  const rtsp: Record<'fast' | 'slow' | 'tls', TestRtspServer | undefined> = {
    fast: undefined,
    slow: undefined,
    tls: undefined,
  };
  const mjpeg: Record<'fast' | 'slow', TestMjpegServer | undefined> = { fast: undefined, slow: undefined };
  let gateway: ServiceProcess | undefined;
  let api: ReturnType<typeof gatewayApi>;
  /** Expected frames a second per camera id. */
  const expected = new Map<string, number>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-rates-'));
    const fast = { ...SQUARE, fps: FAST };
    const slow = { ...SQUARE, fps: SLOW };
    const [h264Fast, h264Slow, mp4Fast, mp4Slow, jpegs] = await Promise.all([
      encodeMovingSquare(dir, fast, 'h264'),
      encodeMovingSquare(dir, slow, 'h264'),
      encodeMovingSquare(dir, fast, 'mp4'),
      encodeMovingSquare(dir, slow, 'mp4'),
      movingSquareJpegs(fast),
    ]);
    const tlsCertFile = await selfSignedCert(dir);
    [rtsp.fast, rtsp.slow, rtsp.tls, mjpeg.fast, mjpeg.slow] = await Promise.all([
      startRtspServer({ clip: h264Fast, fps: FAST }),
      startRtspServer({ clip: h264Slow, fps: SLOW }),
      startRtspServer({ clip: h264Fast, fps: FAST, tlsCertFile }),
      startMjpegServer({ frames: jpegs, fps: FAST, ...MJPEG_LOGIN }),
      startMjpegServer({ frames: jpegs, fps: SLOW, ...MJPEG_LOGIN }),
    ]);
    const cameras: Record<string, unknown>[] = [];
    for (const speed of ['fast', 'slow'] as const) {
      const sourceFps = speed === 'fast' ? FAST : SLOW;
      const stream = Math.min(FPS, sourceFps);
      const m = mjpeg[speed]!;
      const add = (id: string, rate: number, entry: Record<string, unknown>) => {
        cameras.push({ id: `${id}-${speed}`, fps: FPS, ...entry });
        expected.set(`${id}-${speed}`, rate);
      };
      add('rtsp', stream, { url: rtsp[speed]!.url() });
      add('rtsp-udp', stream, { url: rtsp[speed]!.url(), rtspTransport: 'udp' });
      // A server that speaks only TLS (plain rtsp:// to it fails), with a self-signed certificate.
      if (speed === 'fast') add('rtsps', stream, { url: rtsp.tls!.url() });
      add('mjpeg', stream, { url: m.url('/stream.mjpg', true) });
      add('mjpeg-scaled', stream, { url: m.url('/stream.mjpg', true), ...SMALL });
      // A snapshot URL has no rate of its own: it is fetched at the camera's fps.
      add('snapshot', FPS, { url: m.url('/snapshot.jpg', true) });
      add('snapshot-scaled', FPS, { url: m.url('/snapshot.jpg', true), ...SMALL });
      add('file', stream, { url: speed === 'fast' ? mp4Fast : mp4Slow });
      // ffmpeg's generated pattern, paced in real time like a camera.
      add('testsrc', stream, { url: `testsrc://?size=${SQUARE.width}x${SQUARE.height}&rate=${sourceFps}` });
    }
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify({ cameras }));
    gateway = await startService('gateway', {
      CAMERAS_FILE: join(dir, 'cameras.json'),
      GATEWAY_EDGE_URLS: `ws://127.0.0.1:${await freePort()}/ws/detect`,
    });
    api = gatewayApi(gateway);
  });

  afterAll(async () => {
    await gateway?.kill('SIGKILL');
    await Promise.all([rtsp.fast?.kill(), rtsp.slow?.kill(), rtsp.tls?.kill(), mjpeg.fast?.stop(), mjpeg.slow?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers min(source rate, fps) from streams and fps from snapshot URLs, without a stall', async () => {
    // Scaled cameras start in Node and move to ffmpeg at their first frame; the others stay where they start.
    const ready = (c: CameraView) =>
      c.state === 'streaming' && c.stats.framesIn >= 2 && (!c.id.includes('scaled') || c.mode === 'ffmpeg');
    const first = await waitFor(
      'every camera streaming, the scaled ones through ffmpeg',
      async () => {
        const cams = await api.cameras();
        const waiting = cams.filter((c) => !ready(c));
        if (cams.length === expected.size && !waiting.length) return cams;
        throw new Error(JSON.stringify(waiting.map((c) => [c.id, c.state, c.mode, c.stats.framesIn, c.error])));
      },
      30_000,
    );
    const modes = Object.fromEntries(first.map((c) => [c.id, c.mode]));
    expect(modes).toMatchObject({ 'mjpeg-fast': 'passthrough', 'snapshot-slow': 'snapshot', 'rtsps-fast': 'ffmpeg' });
    expect(modes).toMatchObject({ 'mjpeg-scaled-fast': 'ffmpeg', 'snapshot-scaled-slow': 'ffmpeg' });
    expect(first.find((c) => c.id === 'testsrc-fast')).toMatchObject({ source: 'testsrc', mode: 'ffmpeg' });

    // The UDP camera really reads RTP over UDP: its ffmpeg child holds UDP sockets.
    const udp = first.find((c) => c.id === 'rtsp-udp-fast')!;
    expect(udpSockets(udp.pid!), 'UDP sockets of the rtsp-udp ffmpeg').toBeGreaterThanOrEqual(2);
    expect(udpSockets(first.find((c) => c.id === 'rtsp-fast')!.pid!), 'UDP sockets of the TCP one').toBe(0);

    const t0 = Date.now();
    const before = new Map((await api.cameras()).map((c) => [c.id, c.stats]));
    await sleep(WINDOW_MS);
    const after = await api.cameras();
    const seconds = (Date.now() - t0) / 1000;
    const rates = Object.fromEntries(
      after.map((c) => [c.id, Math.round(((c.stats.framesIn - before.get(c.id)!.framesIn) / seconds) * 100) / 100]),
    );
    for (const c of after) {
      const want = expected.get(c.id)!;
      expect(rates[c.id], `${c.id}: delivered fps (all: ${JSON.stringify(rates)})`).toBeGreaterThanOrEqual(want * LOW);
      expect(rates[c.id], `${c.id}: delivered fps (all: ${JSON.stringify(rates)})`).toBeLessThanOrEqual(want * HIGH);
      expect([c.id, c.state, c.stats.reconnects, c.error?.code ?? null]).toEqual([c.id, 'streaming', 0, null]);
    }
  });
});

/** A throw-away certificate and key for 127.0.0.1, in one PEM file (what the test RTSP server reads). */
async function selfSignedCert(dir: string): Promise<string> {
  const [key, cert, both] = ['key.pem', 'cert.pem', 'tls.pem'].map((f) => join(dir, f));
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  writeFileSync(both, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return both;
}

/** UDP sockets a process holds: its socket fds whose inode /proc/net/udp lists. */
function udpSockets(pid: number): number {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((x): x is string => x !== undefined),
  );
  const udp = ['/proc/net/udp', '/proc/net/udp6'].flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/)[9]),
  );
  return udp.filter((ino) => ino !== undefined && inodes.has(ino)).length;
}
