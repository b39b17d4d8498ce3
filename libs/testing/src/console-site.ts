import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMovingSquare, type MovingSquare } from './camera-clips';
import { prepareNginx, startNginx } from './cluster';
import { modelsDir, repoRoot } from './paths';
import { startRedisSite, type RedisSite } from './redis-site';
import type { ServiceProcess } from './service-process';
import { TEST_JWT_SECRET } from './tokens';

/**
 * A red square walking across 1280×720 from left to right in 3.8 s, looped: one 64 px step a frame
 * at 5 fps, on the fixture detector's grid (its cells are 64 px of a 1280-wide frame), so it is seen
 * whole in every frame and tracked across the picture.
 */
export const CONSOLE_SQUARE: MovingSquare = { width: 1280, height: 720, fps: 5, y: 360, speed: 320 };
/** The camera that streams the square (recorded, for clips). */
export const CONSOLE_CAMERA = 'yard-cam';
/**
 * A rule of the site file: the console shows it and offers no edit. The band it covers holds the
 * square's path, so the clip makes a zone entry and exit every pass.
 */
export const CONSOLE_FILE_RULE = {
  id: 'path',
  type: 'zone',
  polygon: [
    [0, 0.45],
    [1, 0.45],
    [1, 0.65],
    [0, 0.65],
  ],
};

export interface ConsoleSiteOptions {
  /** Gateway cameras besides `CONSOLE_CAMERA` (a wall to measure). */
  moreCameras?: { id: string; url: string; fps: number }[];
  /** Settings of the edge and of the gateway beyond the site's. */
  edgeEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
}

export interface ConsoleSite {
  /** https:// origin of nginx, which serves /console/ and the APIs. */
  origin: string;
  redis: RedisSite;
  events: ServiceProcess;
  gateway: ServiceProcess;
  /** Every camera id, `CONSOLE_CAMERA` first. */
  cameras: string[];
  stop(): Promise<void>;
}

/**
 * The console's site as compose runs it: Redis, a worker with the fixture colour detector, an edge,
 * a camera gateway recording a looped clip of `CONSOLE_SQUARE`, the events service with snapshots
 * and clips, and Debian's nginx from the deploy template in front of them all, serving
 * apps/console/dist (built) at /console/. The console's tests and `npm run bench:console` run on it.
 */
export async function startConsoleSite(opts: ConsoleSiteOptions = {}): Promise<ConsoleSite> {
  const dir = mkdtempSync(join(tmpdir(), 'console-'));
  const clip = encodeMovingSquare(dir, CONSOLE_SQUARE, 'mp4');
  const site = await startRedisSite('console', { env: { AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET } });
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
        cameras: { [CONSOLE_CAMERA]: { model: 'default', rules: [CONSOLE_FILE_RULE] } },
      }),
    );
    const cameras = [
      { id: CONSOLE_CAMERA, url: await clip, fps: CONSOLE_SQUARE.fps, record: true },
      ...(opts.moreCameras ?? []),
    ];
    const camerasFile = join(dir, 'cameras.json');
    writeFileSync(camerasFile, JSON.stringify({ cameras }));
    const [events] = await Promise.all([
      site.start('events', {
        EVENTS_SITE_FILE: siteFile,
        EVENTS_SITE: 'yard',
        EVENTS_SNAPSHOT_DIR: join(dir, 'snapshots'),
        // The square jumps its own width a frame: at 5 fps its widened boxes overlap by IoU 0.17 only.
        EVENTS_TRACK_MATCH_IOU: '0.15',
        // Clips of the recorded camera: short, so a test does not wait long for the recording to catch up.
        EVENTS_RECORD_DIR: join(dir, 'recordings'),
        EVENTS_CLIP_BEFORE_SECONDS: '2',
        EVENTS_CLIP_AFTER_SECONDS: '2',
      }),
      site.start('worker', { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'), INTRA_OP_THREADS: '1' }),
    ]);
    const edge = await site.start('edge', opts.edgeEnv);
    const gateway = await site.start('gateway', {
      CAMERAS_FILE: camerasFile,
      GATEWAY_EDGE_URLS: `ws://127.0.0.1:${edge.port}/ws/detect`,
      GATEWAY_RECORD_DIR: join(dir, 'recordings'),
      ...opts.gatewayEnv,
    });
    const nginxSite = await prepareNginx([`127.0.0.1:${edge.port}`], undefined, undefined, {
      gateways: [`127.0.0.1:${gateway.port}`],
      events: [`127.0.0.1:${events.port}`],
      consoleDir: join(repoRoot(), 'apps', 'console', 'dist'),
    });
    nginx = await startNginx(nginxSite);
    return {
      origin: `https://127.0.0.1:${nginxSite.httpsPort}`,
      redis: site,
      events,
      gateway,
      cameras: cameras.map((c) => c.id),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
