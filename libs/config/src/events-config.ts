import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, type Env } from './settings';
import { loadResultsConfig, type ResultsConfig } from './results-config';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max: number) => z.coerce.number().min(min).max(max);
const list = z.string().transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean));
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The anchor points a zone or line may test; bottom-centre is where an object stands. */
export const ANCHORS = ['bottom-center', 'center', 'top-center', 'bottom-left', 'bottom-right'] as const;
export type Anchor = (typeof ANCHORS)[number];

/**
 * The events service (docs/events.md). PORT, METRICS_PORT, REDIS_URL, REDIS_PREFIX and the JWT
 * settings are the common ones of config.ts.
 */
const schema = z.object({
  EVENTS_SITE: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)').default('site'),
  EVENTS_SITE_FILE: z.string().min(1).optional(),
  // How often the site file's mtime is checked for a live reload.
  EVENTS_SITE_POLL_MS: int(100, 600_000).default(2000),
  EVENTS_INSTANCE_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/).optional(),
  // A shard whose owner stopped renewing this long is taken over (the failover time).
  EVENTS_LEASE_MS: int(300, 600_000).default(10_000),
  // Frames are held this long (capture time) to put out-of-order answers back in order.
  EVENTS_REORDER_MS: int(0, 30_000).default(500),
  // Tracker state is written at least this often even without events.
  EVENTS_CHECKPOINT_MS: int(50, 600_000).default(1000),
  EVENTS_MAXLEN: int(100, 10_000_000).default(100_000),
  EVENTS_MAX_CAMERAS: int(1, 1_000_000).default(4096),
  EVENTS_MAX_TRACKS: int(1, 10_000).default(256),
  EVENTS_MAX_RULES: int(1, 1024).default(64),
  // A camera that sent nothing this long loses its tracks (occupancy drops to zero through exits).
  EVENTS_CAMERA_IDLE_MS: int(1000, 86_400_000).default(300_000),
  // Tracker (ByteTrack-style).
  EVENTS_TRACK_LOST_MS: int(0, 600_000).default(2000),
  EVENTS_TRACK_CONFIRM_HITS: int(1, 100).default(2),
  EVENTS_TRACK_MATCH_IOU: num(0.01, 1).default(0.2),
  EVENTS_TRACK_LOW_MATCH_IOU: num(0.01, 1).default(0.5),
  // Rule defaults; each rule may set its own.
  EVENTS_ANCHOR: z.enum(ANCHORS).default('bottom-center'),
  EVENTS_INERTIA: int(1, 1000).default(2),
  EVENTS_EXIT_INERTIA: int(1, 1000).default(2),
  EVENTS_HYSTERESIS: num(0, 10).default(0.1),
  // MQTT (unset URL: no MQTT).
  EVENTS_MQTT_URL: z.url({ protocol: /^(mqtts?|wss?|tcp|ssl)$/ }).optional(),
  EVENTS_MQTT_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/).default('vision'),
  EVENTS_MQTT_USERNAME: z.string().min(1).optional(),
  EVENTS_MQTT_PASSWORD: z.string().min(1).optional(),
  EVENTS_MQTT_INFLIGHT: int(1, 10_000).default(100),
  // Webhooks (declared in the site file).
  EVENTS_WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  EVENTS_WEBHOOK_HOSTS: list.default([]),
  EVENTS_WEBHOOK_BATCH: int(1, 1000).default(50),
  // WebSocket feed.
  EVENTS_WS_MAX_CLIENTS: int(1, 100_000).default(256),
  EVENTS_WS_MAX_BUFFER_BYTES: int(1024, 256 * 1024 * 1024).default(1024 * 1024),
  EVENTS_LIVE_TRACKS: bool.default(true),
});

export interface TrackerConfig {
  /** A lost track not seen again within this (capture time) is removed. */
  lostMs: number;
  /** Consecutive matched frames before a new track is confirmed (only confirmed tracks make events). */
  confirmHits: number;
  /** Least IoU of a high-score match (first stage) and of a low-score one (second stage). */
  matchIou: number;
  lowMatchIou: number;
  maxTracks: number;
}

export interface RuleDefaults {
  anchor: Anchor;
  /** Observations in a row inside a zone (or beyond a line) before it counts. */
  inertia: number;
  /** Observations in a row outside before a zone exit counts. */
  exitInertia: number;
  /** Dead band as a fraction of the box height: leaving a zone or crossing a line must clear it. */
  hysteresis: number;
}

export interface EventsConfig {
  site: string;
  siteFile: string | undefined;
  sitePollMs: number;
  instanceId: string;
  leaseMs: number;
  reorderMs: number;
  checkpointMs: number;
  maxLen: number;
  maxCameras: number;
  maxRules: number;
  cameraIdleMs: number;
  tracker: TrackerConfig;
  ruleDefaults: RuleDefaults;
  mqtt: { url: string; prefix: string; username: string | undefined; password: string | undefined; inflight: number } | undefined;
  webhooks: { secret: string | undefined; hosts: string[]; batch: number };
  ws: { maxClients: number; maxBufferBytes: number };
  liveTracks: boolean;
  results: ResultsConfig;
}

/** Validates the events service's settings of `env`; errors name the variable. */
export function loadEventsConfig(env: Env = process.env): EventsConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  if (e.EVENTS_MQTT_PASSWORD && !e.EVENTS_MQTT_USERNAME) throw new ConfigError(['EVENTS_MQTT_PASSWORD: needs EVENTS_MQTT_USERNAME']);
  return {
    site: e.EVENTS_SITE,
    siteFile: e.EVENTS_SITE_FILE,
    sitePollMs: e.EVENTS_SITE_POLL_MS,
    instanceId: e.EVENTS_INSTANCE_ID ?? `events-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    leaseMs: e.EVENTS_LEASE_MS,
    reorderMs: e.EVENTS_REORDER_MS,
    checkpointMs: e.EVENTS_CHECKPOINT_MS,
    maxLen: e.EVENTS_MAXLEN,
    maxCameras: e.EVENTS_MAX_CAMERAS,
    maxRules: e.EVENTS_MAX_RULES,
    cameraIdleMs: e.EVENTS_CAMERA_IDLE_MS,
    tracker: {
      lostMs: e.EVENTS_TRACK_LOST_MS,
      confirmHits: e.EVENTS_TRACK_CONFIRM_HITS,
      matchIou: e.EVENTS_TRACK_MATCH_IOU,
      lowMatchIou: e.EVENTS_TRACK_LOW_MATCH_IOU,
      maxTracks: e.EVENTS_MAX_TRACKS,
    },
    ruleDefaults: { anchor: e.EVENTS_ANCHOR, inertia: e.EVENTS_INERTIA, exitInertia: e.EVENTS_EXIT_INERTIA, hysteresis: e.EVENTS_HYSTERESIS },
    mqtt: e.EVENTS_MQTT_URL
      ? { url: e.EVENTS_MQTT_URL, prefix: e.EVENTS_MQTT_PREFIX, username: e.EVENTS_MQTT_USERNAME, password: e.EVENTS_MQTT_PASSWORD, inflight: e.EVENTS_MQTT_INFLIGHT }
      : undefined,
    webhooks: { secret: e.EVENTS_WEBHOOK_SECRET, hosts: e.EVENTS_WEBHOOK_HOSTS, batch: e.EVENTS_WEBHOOK_BATCH },
    ws: { maxClients: e.EVENTS_WS_MAX_CLIENTS, maxBufferBytes: e.EVENTS_WS_MAX_BUFFER_BYTES },
    liveTracks: e.EVENTS_LIVE_TRACKS,
    results: loadResultsConfig(env),
  };
}
