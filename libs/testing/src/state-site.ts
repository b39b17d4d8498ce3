import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COLORS, drawScene, type Rect } from './images';
import { modelsDir } from './paths';
import { startPersistentRedis, type PersistentRedis } from './persistent-redis';
import { startTestRedis, uniquePrefix, type TestRedis } from './redis-server';
import { startService, type ServiceProcess } from './service-process';
import { TEST_JWT_SECRET } from './tokens';

/** The cameras of a state site; each has the site file's `gate` line across x 640. */
export const STATE_SITE_CAMERAS = ['cam-0', 'cam-1', 'cam-2', 'cam-3'] as const;

/**
 * A site with its two Redis (docs/architecture.md): frames on a Redis without persistence, state on
 * one with the shipped persistence; an events service, a worker serving `colors` and an edge (JWT on)
 * whose catalog also lists `topology`, a model no worker serves (a bulk job for it stays queued).
 */
export interface StateSite {
  frames: TestRedis;
  state: PersistentRedis;
  prefix: string;
  edge: ServiceProcess;
  worker: ServiceProcess;
  events: ServiceProcess;
  /** The edge's WebSocket endpoint. */
  detectUrl: string;
  stop(): Promise<void>;
}

export async function startStateSite(name: string): Promise<StateSite> {
  const [frames, state] = await Promise.all([startTestRedis({ own: true }), startPersistentRedis()]);
  const prefix = uniquePrefix(name);
  const dir = mkdtempSync(join(tmpdir(), 'state-site-'));
  writeFileSync(
    join(dir, 'models.json'),
    JSON.stringify({
      models: [
        { id: 'colors', path: join(modelsDir(), 'colors-v8-dyn.onnx') },
        { id: 'topology', path: join(modelsDir(), 'yolov8n-topology-320.onnx') },
      ],
    }),
  );
  const gate = { id: 'gate', type: 'line', units: 'px', from: [640, 720], to: [640, 0], classes: ['red'] };
  writeFileSync(
    join(dir, 'site.json'),
    JSON.stringify({
      models: { colors: ['red', 'green', 'blue'] },
      cameras: Object.fromEntries(STATE_SITE_CAMERAS.map((c) => [c, { model: 'colors', rules: [gate] }])),
    }),
  );
  const common = {
    REDIS_URL: frames.url,
    STATE_REDIS_URL: state.url,
    REDIS_PREFIX: prefix,
    RESULTS_SHARDS: '2',
    MODELS_FILE: join(dir, 'models.json'),
    LOG_LEVEL: 'warn',
  };
  const started: ServiceProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.kill('SIGKILL')));
    await Promise.all([frames.stop(), state.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  const start = async (...args: Parameters<typeof startService>) => {
    const p = await startService(...args);
    started.push(p);
    return p;
  };
  try {
    // LOG_LEVEL info only for the lines the harness waits for (ready, ports).
    const [events, worker, edge] = await Promise.all([
      start('events', { ...common, LOG_LEVEL: 'info', EVENTS_SITE: 'depot', EVENTS_SITE_FILE: join(dir, 'site.json') }),
      start('worker', { ...common, LOG_LEVEL: 'info', WORKER_MODELS: 'colors', INTRA_OP_THREADS: '1' }),
      start('edge', { ...common, LOG_LEVEL: 'info', AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET }),
    ]);
    return {
      frames,
      state,
      prefix,
      edge,
      worker,
      events,
      detectUrl: `ws://127.0.0.1:${edge.port}/ws/detect?model=colors`,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * How far apart a camera sends the clip's frames: the square moves a box width per frame, and the
 * tracker's matching space grows with the time between frames (libs/events tracker.ts); nearer
 * frames would start a new track each frame and cross nothing.
 */
export const STATE_SITE_CLIP_FRAME_MS = 400;

/**
 * The cameras' pictures (1280x720 JPEG; a fixture-model cell is 64 px here): `empty` shows nothing;
 * `clip` is a red square walking across the gate (x 640) and back to its start, once per loop, with a
 * blue square standing still at (1024, 104).
 */
export async function stateSiteClip(): Promise<{ empty: Buffer; clip: Buffer[] }> {
  const scene = (rects: Rect[]) => drawScene({ width: 1280, height: 720, format: 'jpeg', quality: 90, rects });
  // On the model's cell grid (rows from y 40 once letterboxed), so each square is one box.
  const blue: Rect = { x: 1024, y: 104, w: 64, h: 64, color: COLORS.blue };
  const clip = await Promise.all(
    Array.from({ length: 12 }, (_, i) => scene([{ x: 64 * (3 + i), y: 360, w: 64, h: 64, color: COLORS.red }, blue])),
  );
  return { empty: await scene([]), clip };
}
