import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  encodeMovingSquare,
  modelsDir,
  prepareNginx,
  repoRoot,
  startNginx,
  startRedisSite,
  TEST_JWT_SECRET,
  type MovingSquare,
} from '@vision/testing';

/** The console harness's clip (apps/console/test/console-harness.ts): a red square crossing in 3 s. */
export const SQUARE: MovingSquare = { width: 640, height: 360, fps: 10, y: 20, speed: 192 };
/** The camera whose timeline is watched: it streams the square, and its site-file zone makes events. */
export const EVENTS_CAMERA = 'yard-cam';
/** The console harness's FILE_RULE: a zone over the square's path (zone events all the time). */
const FILE_RULE = {
  id: 'path',
  type: 'zone',
  polygon: [
    [0, 0],
    [1, 0],
    [1, 0.4],
    [0, 0.4],
  ],
};

export interface WallSite {
  /** https:// origin of nginx (the console at /console/, the APIs). */
  origin: string;
  /** The gateway's own API (http://, no nginx): its cameras' stats. */
  gatewayUrl: string;
  redisUrl: string;
  prefix: string;
  /** Every camera id, the events camera first. */
  cameras: string[];
  /** Results shards: the events streams are `<prefix>:events:stream:<shard>`. */
  shards: number;
  stop(): Promise<void>;
}

/** The events service's default RESULTS_SHARDS (libs/config/src/results-config.ts). */
const RESULTS_SHARDS = 8;
/** How long 64 ffmpeg children may take to stream on 2 cores. */
const STREAMING_TIMEOUT_MS = 180_000;

/**
 * The console's site as apps/console/test/console-harness.ts starts it (Redis, a worker with the
 * fixture colour detector, an edge, the gateway, the events service, Debian's nginx from the deploy
 * template serving apps/console/dist), with `cameras` gateway cameras: `EVENTS_CAMERA` pulls the
 * looped clip of `SQUARE` at its 10 fps, every other one is ffmpeg's `testsrc2` pattern
 * (`testsrc://?size=<size>&rate=<fps>`). Resolves once every camera streams.
 */
export async function startWallSite(o: { cameras: number; size: string; fps: number; token: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'console-wall-'));
  const clip = encodeMovingSquare(dir, SQUARE, 'mp4');
  const site = await startRedisSite('wall', { env: { AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET } });
  let nginx: ChildProcess | undefined;
  const stop = async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx!.once('exit', r));
      nginx.kill('SIGQUIT');
      await exited;
    }
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const siteFile = join(dir, 'site.json');
    writeFileSync(
      siteFile,
      JSON.stringify({
        models: { default: ['red', 'green', 'blue'] },
        cameras: { [EVENTS_CAMERA]: { model: 'default', rules: [FILE_RULE] } },
      }),
    );
    const synthetic = Array.from({ length: o.cameras - 1 }, (_, i) => ({
      id: `cam-${String(i + 1).padStart(2, '0')}`,
      url: `testsrc://?size=${o.size}&rate=${o.fps}`,
      fps: o.fps,
    }));
    const cameras = [{ id: EVENTS_CAMERA, url: await clip, fps: SQUARE.fps }, ...synthetic];
    const camerasFile = join(dir, 'cameras.json');
    writeFileSync(camerasFile, JSON.stringify({ cameras }));
    const [events] = await Promise.all([
      site.start('events', {
        EVENTS_SITE_FILE: siteFile,
        EVENTS_SITE: 'yard',
        EVENTS_SNAPSHOT_DIR: join(dir, 'snapshots'),
      }),
      site.start('worker', { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'), INTRA_OP_THREADS: '1' }),
    ]);
    // One edge connection per camera, all from 127.0.0.1: above the per-address default of 32.
    const edge = await site.start('edge', {
      MAX_CONNECTIONS_PER_IP: '1000',
      MAX_CONNECTIONS_PER_SUBJECT: '1000',
    });
    const gateway = await site.start('gateway', {
      CAMERAS_FILE: camerasFile,
      GATEWAY_EDGE_URLS: `ws://127.0.0.1:${edge.port}/ws/detect`,
      GATEWAY_MAX_CAMERAS: String(o.cameras),
    });
    const nginxSite = await prepareNginx([`127.0.0.1:${edge.port}`], undefined, undefined, {
      gateways: [`127.0.0.1:${gateway.port}`],
      events: [`127.0.0.1:${events.port}`],
      consoleDir: join(repoRoot(), 'apps', 'console', 'dist'),
    });
    nginx = await startNginx(nginxSite);
    await allStreaming(`http://127.0.0.1:${gateway.port}/v1/cameras`, o.token, cameras.length);
    return {
      origin: `https://127.0.0.1:${nginxSite.httpsPort}`,
      gatewayUrl: `http://127.0.0.1:${gateway.port}`,
      redisUrl: site.redis.url,
      prefix: site.prefix,
      cameras: cameras.map((c) => c.id),
      shards: RESULTS_SHARDS,
      stop,
    } satisfies WallSite;
  } catch (err) {
    await stop();
    throw err;
  }
}

async function allStreaming(url: string, token: string, want: number): Promise<void> {
  const until = Date.now() + STREAMING_TIMEOUT_MS;
  let streaming = 0;
  while (Date.now() < until) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const { cameras } = (await res.json()) as { cameras: { state: string }[] };
    streaming = cameras.filter((c) => c.state === 'streaming').length;
    if (streaming === want) return;
    await sleep(1000);
  }
  throw new Error(`only ${streaming} of ${want} cameras streaming after ${STREAMING_TIMEOUT_MS / 1000} s`);
}
