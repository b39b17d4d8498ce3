import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { checkWebhookRotation } from './key-rotation';
import { RESULTS_SETTINGS } from './results-config';
import { bool, ConfigError, int, list, loadSettings, num, setting, type Env, type Loaded } from './settings';

/** The anchor points a zone or line may test; bottom-centre is where an object stands. */
export const ANCHORS = ['bottom-center', 'center', 'top-center', 'bottom-left', 'bottom-right'] as const;
export type Anchor = (typeof ANCHORS)[number];

/**
 * The events service (docs/events.md). PORT, METRICS_PORT, REDIS_URL, REDIS_PREFIX and the JWT
 * settings are the common ones of config.ts.
 */
export const EVENTS_SETTINGS = {
  site: setting(
    'EVENTS_SITE',
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)')
      .default('site'),
  ),
  siteFile: setting('EVENTS_SITE_FILE', z.string().min(1).optional()),
  // How often the site file's mtime is checked for a live reload.
  sitePollMs: setting('EVENTS_SITE_POLL_MS', int(100, 600_000).default(2000)),
  instanceId: setting(
    'EVENTS_INSTANCE_ID',
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,128}$/)
      .optional(),
  ),
  // A shard whose owner stopped renewing this long is taken over (the failover time).
  leaseMs: setting('EVENTS_LEASE_MS', int(300, 600_000).default(10_000)),
  // Frames are held this long (capture time) to put out-of-order answers back in order.
  reorderMs: setting('EVENTS_REORDER_MS', int(0, 30_000).default(500)),
  // Tracker state is written at least this often even without events.
  checkpointMs: setting('EVENTS_CHECKPOINT_MS', int(50, 600_000).default(1000)),
  maxLen: setting('EVENTS_MAXLEN', int(100, 10_000_000).default(100_000)),
  maxCameras: setting('EVENTS_MAX_CAMERAS', int(1, 1_000_000).default(4096)),
  maxRules: setting('EVENTS_MAX_RULES', int(1, 1024).default(64)),
  // A camera that sent nothing this long loses its tracks (occupancy drops to zero through exits).
  cameraIdleMs: setting('EVENTS_CAMERA_IDLE_MS', int(1000, 86_400_000).default(300_000)),
  // Tracker (ByteTrack-style).
  tracker: {
    /** A lost track not seen again within this (capture time) is removed. */
    lostMs: setting('EVENTS_TRACK_LOST_MS', int(0, 600_000).default(2000)),
    /** Consecutive matched frames before a new track is confirmed (only confirmed tracks make events). */
    confirmHits: setting('EVENTS_TRACK_CONFIRM_HITS', int(1, 100).default(2)),
    /** Least IoU of a high-score match (first stage) and of a low-score one (second stage). */
    matchIou: setting('EVENTS_TRACK_MATCH_IOU', num(0.01, 1).default(0.2)),
    lowMatchIou: setting('EVENTS_TRACK_LOW_MATCH_IOU', num(0.01, 1).default(0.5)),
    maxTracks: setting('EVENTS_MAX_TRACKS', int(1, 10_000).default(256)),
  },
  // Rule defaults; each rule may set its own.
  ruleDefaults: {
    anchor: setting('EVENTS_ANCHOR', z.enum(ANCHORS).default('bottom-center')),
    /** Observations in a row inside a zone (or beyond a line) before it counts. */
    inertia: setting('EVENTS_INERTIA', int(1, 1000).default(2)),
    /** Observations in a row outside before a zone exit counts. */
    exitInertia: setting('EVENTS_EXIT_INERTIA', int(1, 1000).default(2)),
    /** Dead band as a fraction of the box height: leaving a zone or crossing a line must clear it. */
    hysteresis: setting('EVENTS_HYSTERESIS', num(0, 10).default(0.1)),
  },
  // MQTT (unset URL: no MQTT).
  mqtt: {
    url: setting('EVENTS_MQTT_URL', z.url({ protocol: /^(mqtts?|wss?|tcp|ssl)$/ }).optional()),
    prefix: setting(
      'EVENTS_MQTT_PREFIX',
      z
        .string()
        .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/)
        .default('vision'),
    ),
    username: setting('EVENTS_MQTT_USERNAME', z.string().min(1).optional()),
    password: setting('EVENTS_MQTT_PASSWORD', z.string().min(1).optional()),
    inflight: setting('EVENTS_MQTT_INFLIGHT', int(1, 10_000).default(100)),
  },
  // Webhooks (declared in the site file).
  webhooks: {
    secret: setting('EVENTS_WEBHOOK_SECRET', z.string().min(32, 'must be at least 32 characters').optional()),
    // Signs beside EVENTS_WEBHOOK_SECRET while receivers move to the new secret (docs/events.md).
    previousSecret: setting(
      'EVENTS_WEBHOOK_SECRET_PREVIOUS',
      z.string().min(32, 'must be at least 32 characters').optional(),
    ),
    hosts: setting('EVENTS_WEBHOOK_HOSTS', list.default([])),
    batch: setting('EVENTS_WEBHOOK_BATCH', int(1, 1000).default(50)),
  },
  // WebSocket feed.
  ws: {
    maxClients: setting('EVENTS_WS_MAX_CLIENTS', int(1, 100_000).default(256)),
    maxBufferBytes: setting('EVENTS_WS_MAX_BUFFER_BYTES', int(1024, 256 * 1024 * 1024).default(1024 * 1024)),
  },
  // Clips of events on recorded cameras (docs/cameras.md#recording): the gateway's recording folder,
  // mounted here, and the window around an event's time.
  clip: {
    // The gateway's GATEWAY_RECORD_DIR as this service sees it; unset: no clips.
    dir: setting('EVENTS_RECORD_DIR', z.string().min(1).optional()),
    beforeSeconds: setting('EVENTS_CLIP_BEFORE_SECONDS', num(0, 3600).default(5)),
    afterSeconds: setting('EVENTS_CLIP_AFTER_SECONDS', num(0, 3600).default(5)),
    maxBytes: setting('EVENTS_CLIP_MAX_BYTES', int(64 * 1024, 4 * 1024 ** 3).default(256 * 1024 * 1024)),
    // ffmpeg remuxing a clip is killed after this long.
    timeoutMs: setting('EVENTS_CLIP_TIMEOUT_MS', int(100, 600_000).default(30_000)),
    ffmpegPath: setting('FFMPEG_PATH', z.string().min(1).default('ffmpeg')),
  },
  liveTracks: setting('EVENTS_LIVE_TRACKS', bool.default(true)),
  // Snapshots of track events (docs/events.md#snapshots); unset directory: none, and no frames kept.
  snapshots: {
    dir: setting('EVENTS_SNAPSHOT_DIR', z.string().min(1).optional()),
    retentionDays: setting('EVENTS_SNAPSHOT_RETENTION_DAYS', num(0, 36_500).default(14)),
    maxBytes: setting('EVENTS_SNAPSHOT_MAX_BYTES', int(1024 * 1024, Number.MAX_SAFE_INTEGER).default(10 * 1024 ** 3)),
    // Stored pictures are scaled down to this width when wider (never up); unset: as captured.
    maxWidth: setting('EVENTS_SNAPSHOT_MAX_WIDTH', int(64, 16_384).optional()),
    quality: setting('EVENTS_SNAPSHOT_QUALITY', int(1, 100).default(85)),
    // How often retention runs: a budget may be exceeded this long.
    sweepMs: setting('EVENTS_SNAPSHOT_SWEEP_MS', int(1000, 86_400_000).default(60_000)),
    // Snapshots waiting for their frame; more are refused (counted), events go on.
    maxQueue: setting('EVENTS_SNAPSHOT_MAX_QUEUE', int(1, 100_000).default(1000)),
    // The frames workers keep for them, on the frames Redis, only for cameras with rules.
    frameWindow: {
      ms: setting('EVENTS_FRAME_WINDOW_MS', int(1000, 600_000).default(10_000)),
      cameraBytes: setting('EVENTS_FRAME_WINDOW_CAMERA_BYTES', int(64 * 1024, 1024 ** 3).default(8 * 1024 * 1024)),
      totalBytes: setting('EVENTS_FRAME_WINDOW_TOTAL_BYTES', int(64 * 1024, 64 * 1024 ** 3).default(512 * 1024 * 1024)),
    },
  },
  results: RESULTS_SETTINGS,
} as const;

type EventsLoaded = Loaded<typeof EVENTS_SETTINGS>;
export type TrackerConfig = EventsLoaded['tracker'];
export type RuleDefaults = EventsLoaded['ruleDefaults'];
export type EventsConfig = Omit<EventsLoaded, 'instanceId' | 'mqtt'> & {
  instanceId: string;
  /** Undefined: no MQTT (EVENTS_MQTT_URL unset). */
  mqtt: (Omit<EventsLoaded['mqtt'], 'url'> & { url: string }) | undefined;
};

/** Validates the events service's settings of `env`; errors name the variable. */
export function loadEventsConfig(env: Env = process.env): EventsConfig {
  const e = loadSettings(EVENTS_SETTINGS, env);
  if (e.mqtt.password && !e.mqtt.username) throw new ConfigError(['EVENTS_MQTT_PASSWORD: needs EVENTS_MQTT_USERNAME']);
  checkWebhookRotation('EVENTS_WEBHOOK_SECRET', e.webhooks.secret, e.webhooks.previousSecret, (issue) => {
    throw new ConfigError([issue]);
  });
  const window = e.snapshots.frameWindow;
  if (e.snapshots.dir && window.ms <= e.reorderMs)
    throw new ConfigError([`EVENTS_FRAME_WINDOW_MS: must exceed EVENTS_REORDER_MS (${e.reorderMs}), got ${window.ms}`]);
  if (window.totalBytes < window.cameraBytes)
    throw new ConfigError([
      `EVENTS_FRAME_WINDOW_TOTAL_BYTES: must be at least EVENTS_FRAME_WINDOW_CAMERA_BYTES (${window.cameraBytes})`,
    ]);
  if (e.clip.dir && !e.snapshots.dir)
    throw new ConfigError([
      'EVENTS_RECORD_DIR: clips need EVENTS_SNAPSHOT_DIR (its event records say which camera and when)',
    ]);
  const { url, ...mqtt } = e.mqtt;
  return {
    ...e,
    instanceId: e.instanceId ?? `events-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    mqtt: url ? { ...mqtt, url } : undefined,
  };
}
