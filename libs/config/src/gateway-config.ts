import { z } from 'zod';
import { ConfigError, int, list, loadSettings, num, setting, type Env, type Loaded } from './settings';

/**
 * The camera gateway's own settings (docs/cameras.md). HOST, METRICS_PORT, LOG_LEVEL and the JWT
 * settings (JWT_SECRET / JWKS_*, JWT_ISSUER, JWT_AUDIENCE, AUTH_DISABLED) are the common ones of config.ts.
 */
export const GATEWAY_SETTINGS = {
  // Edges the cameras' frames go to, tried in turn (one WebSocket per camera).
  edgeUrls: setting(
    'GATEWAY_EDGE_URLS',
    list.pipe(
      z
        .array(z.url({ protocol: /^wss?$/, error: 'must be ws:// or wss:// URLs' }))
        .min(1, 'needs at least one edge URL'),
    ),
  ),
  // The authenticated HTTP API (list, add, update, remove, pause, snapshots).
  port: setting('GATEWAY_PORT', int(0, 65535).default(8090)),
  // This gateway serves the cameras assigned to GATEWAY_INDEX: a camera's own `gateway` field, or
  // a stable hash of its id modulo GATEWAY_COUNT.
  index: setting('GATEWAY_INDEX', int(0, 9999).default(0)),
  count: setting('GATEWAY_COUNT', int(1, 10_000).default(1)),
  maxCameras: setting('GATEWAY_MAX_CAMERAS', int(1, 10_000).default(64)),
  camerasFile: setting('CAMERAS_FILE', z.string().min(1).optional()),
  // How often the cameras file's mtime is checked for a live reload (SIGHUP reloads at once).
  camerasFilePollMs: setting('CAMERAS_FILE_POLL_MS', int(100, 600_000).default(1000)),
  // Edge tokens: minted per camera from JWT_SECRET (HS256), or read from this file at every connect.
  tokenFile: setting('GATEWAY_TOKEN_FILE', z.string().min(1).optional()),
  tokenTtlS: setting('GATEWAY_TOKEN_TTL_S', int(60, 86_400).default(600)),
  ffmpeg: {
    path: setting('FFMPEG_PATH', z.string().min(1).default('ffmpeg')),
    // `-hwaccel` for decoding (cuda, vaapi, qsv, …); unset: software decoding.
    hwaccel: setting(
      'FFMPEG_HWACCEL',
      z
        .string()
        .regex(/^[a-z0-9_]{1,32}$/, 'an ffmpeg -hwaccel name such as cuda or vaapi')
        .optional(),
    ),
    // After SIGTERM, how long a child has before SIGKILL.
    killGraceMs: setting('FFMPEG_KILL_GRACE_MS', int(50, 60_000).default(2000)),
    // JPEG quality of re-encoded frames: ffmpeg's -q:v, 2 (best) to 31.
    jpegQuality: setting('CAMERA_JPEG_QUALITY', int(2, 31).default(5)),
  },
  // What a camera that sets none of its own gets (the cameras file may set fps, maxWidth and
  // maxHeight per camera), and the limits every camera has.
  camera: {
    defaultFps: setting('CAMERA_DEFAULT_FPS', num(0.1, 60).default(5)),
    maxWidth: setting('CAMERA_MAX_WIDTH', int(32, 8192).default(1280)),
    maxHeight: setting('CAMERA_MAX_HEIGHT', int(32, 8192).default(720)),
    // A frame above this is an error on its camera (edges refuse more than MAX_FRAME_BYTES).
    maxFrameBytes: setting('CAMERA_MAX_FRAME_BYTES', int(16 * 1024, 64 * 1024 * 1024).default(4 * 1024 * 1024)),
    // No frame for this long (or none since the start): the camera's source is restarted.
    stallTimeoutMs: setting('CAMERA_STALL_TIMEOUT_MS', int(500, 600_000).default(10_000)),
  },
  // Recording (docs/cameras.md#recording): cameras with `record: true` also write their video, as it
  // comes, in MPEG-TS segments under GATEWAY_RECORD_DIR; the sweep deletes by age, then oldest first
  // over the byte budget (every camera together).
  record: {
    dir: setting('GATEWAY_RECORD_DIR', z.string().min(1).optional()),
    segmentSeconds: setting('GATEWAY_RECORD_SEGMENT_SECONDS', int(1, 60).default(2)),
    retentionHours: setting('GATEWAY_RECORD_RETENTION_HOURS', num(0.001, 8760).default(24)),
    maxBytes: setting('GATEWAY_RECORD_MAX_BYTES', int(64 * 1024, Number.MAX_SAFE_INTEGER).default(10 * 1024 ** 3)),
  },
  // Reconnect delays: initial × factor^attempt, capped, ± jitter; reset after a stable minute.
  backoff: {
    initialMs: setting('CAMERA_BACKOFF_INITIAL_MS', int(10, 600_000).default(1000)),
    factor: setting('CAMERA_BACKOFF_FACTOR', num(1, 10).default(1.5)),
    maxMs: setting('CAMERA_BACKOFF_MAX_MS', int(10, 3_600_000).default(30_000)),
    jitter: setting('CAMERA_BACKOFF_JITTER', num(0, 1).default(0.2)),
    stableMs: setting('CAMERA_BACKOFF_STABLE_MS', int(1000, 3_600_000).default(60_000)),
  },
};

export type GatewayConfig = Loaded<typeof GATEWAY_SETTINGS>;

/** Validates the gateway's settings of `env`; errors name the variable. */
export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const c = loadSettings(GATEWAY_SETTINGS, env);
  const fail = (issue: string): never => {
    throw new ConfigError([issue]);
  };
  if (c.index >= c.count) fail(`GATEWAY_INDEX: must be below GATEWAY_COUNT (${c.count}), got ${c.index}`);
  if (c.backoff.maxMs < c.backoff.initialMs) fail('CAMERA_BACKOFF_MAX_MS: must be at least CAMERA_BACKOFF_INITIAL_MS');
  if (c.tokenFile && env['JWT_SECRET'])
    fail('GATEWAY_TOKEN_FILE: set it or JWT_SECRET (the gateway then mints its own tokens), not both');
  return c;
}
