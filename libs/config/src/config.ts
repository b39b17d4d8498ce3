import { hostname } from 'node:os';
import { cpuCores } from './cpu-cores';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { checkKeyRotation, checkWebhookRotation } from './key-rotation';
import { REDIS_SETTINGS, resolveRedis, type ResolvedRedis } from './redis-config';
import { RESULTS_SETTINGS } from './results-config';
import { hostFitSettings, providerDefaults, type FitPins } from './runtime-defaults';
import { bool, ConfigError, id, int, list, loadSettings, num, setting, type Env, type Loaded } from './settings';

/** ONNX Runtime execution providers a model may run on. */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];
export const executionProvider = z.enum(EXECUTION_PROVIDERS);
const MiB = 1024 * 1024;

/**
 * Every setting of the edge, worker and embedded server, read from the environment once at
 * start-up: the variable, its validation and its default, once each. The config's shape is this
 * tree's; docs/configuration.md describes it (the docs check keeps them together).
 */
export const CORE_SETTINGS = {
  port: setting('PORT', int(0, 65535).default(8080)),
  host: setting('HOST', z.string().min(1).default('0.0.0.0')),
  redis: REDIS_SETTINGS,
  redisPrefix: setting(
    'REDIS_PREFIX',
    z
      .string()
      .regex(/^[A-Za-z0-9:_-]+$/)
      .default('vision'),
  ),
  edgeId: setting('EDGE_ID', id.optional()),
  workerId: setting('WORKER_ID', id.optional()),
  // The private ops port (/metrics, /healthz, /readyz). Unset: the role's own default, so an edge
  // and workers can share a host (see metricsPortFor).
  metricsPort: setting('METRICS_PORT', int(0, 65535).optional()),
  demoEnabled: setting('DEMO_ENABLED', bool.default(true)),
  tlsCertFile: setting('TLS_CERT_FILE', z.string().min(1).optional()),
  tlsKeyFile: setting('TLS_KEY_FILE', z.string().min(1).optional()),
  // The images set NODE_ENV=production: a real site, where a state Redis that keeps nothing on disk is warned of.
  production: setting(
    'NODE_ENV',
    z
      .string()
      .optional()
      .transform((v) => v === 'production'),
  ),
  logLevel: setting(
    'LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  modelsFile: setting('MODELS_FILE', z.string().min(1).optional()),
  modelId: setting(
    'MODEL_ID',
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .default('default'),
  ),
  modelVersion: setting(
    'MODEL_VERSION',
    z
      .string()
      .regex(/^[A-Za-z0-9_.+-]{1,64}$/)
      .default('1'),
  ),
  workerModels: setting('WORKER_MODELS', list.optional()),
  modelMemoryMb: setting('MODEL_MEMORY_MB', int(0, 10_000_000).default(0)),
  model: {
    // Required for a stand-alone worker; only the embedded demo falls back to DEMO_MODEL_PATH.
    path: setting('MODEL_PATH', z.string().min(1).optional()),
    namesFile: setting('NAMES_FILE', z.string().min(1).optional()),
    confThreshold: setting('CONF_THRESHOLD', num(0, 1).default(0.25)),
    iouThreshold: setting('IOU_THRESHOLD', num(0, 1).default(0.45)),
    maxDetections: setting('MAX_DETECTIONS', int(1, 10000).default(300)),
    executionProvider: setting('EXECUTION_PROVIDER', executionProvider.default('cpu')),
    allowProviderFallback: setting('ALLOW_PROVIDER_FALLBACK', bool.default(false)),
    deviceId: setting('DEVICE_ID', int(0, 64).default(0)),
    // Unset: by provider (see providerDefaults).
    intraOpThreads: setting('INTRA_OP_THREADS', int(0, 1024).optional()),
    interOpThreads: setting('INTER_OP_THREADS', int(0, 1024).default(0)),
    // Unset: by provider (see providerDefaults).
    spinSingleFrames: setting('SPIN_SINGLE_FRAMES', bool.optional()),
    maxInputPixels: setting('MAX_INPUT_PIXELS', int(1, 1_000_000_000).default(40_000_000)),
    // Interlaced/progressive and 16-bit images cost many times a baseline decode (a 309 KB
    // interlaced 16-bit PNG took ~1 s and ~300 MB at 6300²).
    costlyDecodeMaxPixels: setting('COSTLY_DECODE_MAX_PIXELS', int(1, 1_000_000_000).default(4_000_000)),
    decodeTimeoutS: setting('DECODE_TIMEOUT_S', int(1, 60).default(2)),
    // The serving graph: uint8 frames in, the best SERVING_TOP_K candidates out (docs/models.md).
    // Off: the export runs as it is, float32 in and its raw output back to the host.
    servingGraph: setting('SERVING_GRAPH', bool.default(true)),
    // 1024 candidates (24 KB per frame) reach NMS: more than the boxes of a crowded frame, under the
    // 32 KB per frame a GPU host should move (the crowd test shows where fewer start to lose boxes).
    topK: setting('SERVING_TOP_K', int(1, 100_000).default(1024)),
    // A classifier's answer: its best classes per frame (Ultralytics reports the top 5).
    classifyTopK: setting('CLASSIFY_TOP_K', int(1, 1000).default(5)),
  },
  batching: {
    // Unset: by provider (see providerDefaults).
    maxBatch: setting('MAX_BATCH', int(1, 256).optional()),
    maxWaitMs: setting('MAX_WAIT_MS', int(0, 10_000).default(0)),
    maxQueue: setting('MAX_QUEUE', int(1, 100_000).default(64)),
    // Unset: by provider (see YoloModelOptions.batchSizes).
    batchSizes: setting(
      'BATCH_SIZES',
      list
        .pipe(z.array(z.coerce.number<string>().int().min(1).max(256)))
        .refine((a: number[]) => a.every((n, i) => i === 0 || n > a[i - 1]), 'must be ascending')
        .optional(),
    ),
    // Unset: by provider, or (on a CPU) the start-up fit's choice.
    engines: setting('ENGINES', int(1, 64).optional()),
    // Unset: on by provider (CPU). Measures splits of the cores and batch sizes while loading a model.
    hostFit: setting('HOST_FIT', bool.optional()),
    // One decode per available core: decoders beyond the cores only slow each other (and the
    // engine) down. libuv's pool is sized to match (threadPoolSize).
    decodeConcurrency: setting('DECODE_CONCURRENCY', int(1, 256).default(cpuCores())),
  },
  frames: {
    deadlineMs: setting('FRAME_DEADLINE_MS', int(10, 600_000).default(2000)),
    resultMarginMs: setting('RESULT_MARGIN_MS', int(0, 60_000).default(1000)),
    maxFrameBytes: setting('MAX_FRAME_BYTES', int(1024, 64 * MiB).default(8 * MiB)),
    maxInFlight: setting('MAX_IN_FLIGHT', int(1, 1024).default(2)),
    pingIntervalMs: setting('PING_INTERVAL_MS', int(100, 600_000).default(25_000)),
    shutdownGraceMs: setting('SHUTDOWN_GRACE_MS', int(0, 600_000).default(10_000)),
  },
  results: RESULTS_SETTINGS,
  streams: {
    maxLen: setting('STREAM_MAXLEN', int(1, 10_000_000).default(1000)),
    claimMinIdleMs: setting('CLAIM_MIN_IDLE_MS', int(10, 600_000).default(3000)),
    maxDeliveries: setting('MAX_DELIVERIES', int(1, 100).default(3)),
  },
  auth: {
    /** Explicit AUTH_DISABLED; undefined = not said (roles decide what a missing key source means). */
    disabled: setting('AUTH_DISABLED', bool.optional()),
    secret: setting('JWT_SECRET', z.string().min(32, 'must be at least 32 characters (256 bits) for HS256').optional()),
    // Key rotation (docs/tokens.md): the secret before JWT_SECRET verifies, never signs, until the stated time.
    previousSecret: setting('JWT_SECRET_PREVIOUS', z.string().min(32, 'must be at least 32 characters').optional()),
    previousSecretUntil: setting(
      'JWT_SECRET_PREVIOUS_UNTIL',
      z.iso.datetime({ offset: true }).transform(Date.parse).optional(),
    ),
    jwksFile: setting('JWKS_FILE', z.string().min(1).optional()),
    jwksUrl: setting('JWKS_URL', z.url({ protocol: /^https?$/ }).optional()),
    issuer: setting('JWT_ISSUER', z.string().min(1).optional()),
    audience: setting('JWT_AUDIENCE', z.string().min(1).optional()),
    clockSkewS: setting('JWT_CLOCK_SKEW_S', int(0, 600).default(30)),
    allowedOrigins: setting('ALLOWED_ORIGINS', list.default([])),
    allowNoOrigin: setting('ALLOW_NO_ORIGIN', bool.default(true)),
    trustedProxies: setting('TRUSTED_PROXIES', list.default([])),
  },
  limits: {
    maxConnections: setting('MAX_CONNECTIONS', int(1, 1_000_000).default(4096)),
    maxConnectionsPerIp: setting('MAX_CONNECTIONS_PER_IP', int(1, 1_000_000).default(32)),
    maxConnectionsPerSubject: setting('MAX_CONNECTIONS_PER_SUBJECT', int(1, 1_000_000).default(64)),
    messagesPerSecond: setting('MESSAGES_PER_SECOND', num(0.1, 100_000).default(60)),
    framesPerSecond: setting('FRAMES_PER_SECOND', num(0.1, 100_000).default(30)),
    subjectFramesPerSecond: setting('SUBJECT_FRAMES_PER_SECOND', num(0.1, 1_000_000).default(300)),
    bytesPerSecond: setting('BYTES_PER_SECOND', int(64 * 1024, 10 * 1024 * MiB).default(16 * MiB)),
    subjectBytesPerSecond: setting('SUBJECT_BYTES_PER_SECOND', int(64 * 1024, 100 * 1024 * MiB).default(32 * MiB)),
    violationsBeforeClose: setting('VIOLATIONS_BEFORE_CLOSE', int(1, 100_000).default(20)),
    idleTimeoutMs: setting('IDLE_TIMEOUT_MS', int(1000, 3_600_000).default(60_000)),
    messageTimeoutMs: setting('MESSAGE_TIMEOUT_MS', int(100, 600_000).default(10_000)),
    // Bytes all connections of one edge may hold in messages not yet complete; past half of it a connection
    // over its share stops being read (TCP backpressure, nothing dropped): a slow sender cannot grow memory.
    maxUnfinishedBytes: setting('MAX_UNFINISHED_BYTES', int(MiB, 64 * 1024 * MiB).default(128 * MiB)),
    tenantMaxQueue: setting('TENANT_MAX_QUEUE', int(1, 100_000).default(16)),
    maxQueueBytes: setting('MAX_QUEUE_BYTES', int(MiB, 64 * 1024 * MiB).default(256 * MiB)),
    // A frame counts ceil(pixels / this) units against its subject's rate and share. Decoding
    // shrinks large JPEGs while it reads them, so cost grows slower than pixels: a 40-megapixel
    // photo decoded about 5x slower than a 720p frame (`npm run bench:decode`), and counts 5 units
    // at the default (a 4K frame is one unit).
    costUnitPixels: setting('COST_UNIT_PIXELS', int(1, 1_000_000_000).default(3840 * 2160)),
  },
  bulk: {
    maxUploadBytes: setting('BULK_MAX_UPLOAD_BYTES', int(1024, 16 * 1024 * MiB).default(256 * MiB)),
    maxImages: setting('BULK_MAX_IMAGES', int(1, 1_000_000).default(1000)),
    /** Image bytes all jobs together may keep in Redis until they finish. */
    maxStoredBytes: setting('BULK_MAX_STORED_BYTES', int(MiB, 1024 * 1024 * MiB).default(1024 * MiB)),
    maxJobsPerTenant: setting('BULK_MAX_JOBS_PER_TENANT', int(1, 10_000).default(4)),
    resultTtlS: setting('BULK_RESULT_TTL_S', int(60, 30 * 24 * 3600).default(24 * 3600)),
    /** HMAC-SHA256 key of webhook bodies; jobs with a webhook are refused without it. */
    webhookSecret: setting('BULK_WEBHOOK_SECRET', z.string().min(32, 'must be at least 32 characters').optional()),
    /** Signs beside BULK_WEBHOOK_SECRET while receivers move to the new secret (docs/jobs.md). */
    webhookPreviousSecret: setting(
      'BULK_WEBHOOK_SECRET_PREVIOUS',
      z.string().min(32, 'must be at least 32 characters').optional(),
    ),
    /** Hosts webhooks may go to (exact, or `*.example.com`); empty = any host outside the site. */
    webhookHosts: setting('BULK_WEBHOOK_HOSTS', list.default([])),
    jobConcurrency: setting('BULK_JOB_CONCURRENCY', int(1, 64).default(2)),
    lockMs: setting('BULK_LOCK_MS', int(1000, 600_000).default(15_000)),
    // Unset: by the model's provider (see providerDefaults).
    maxBatch: setting('BULK_MAX_BATCH', int(1, 256).optional()),
    topUp: setting('BULK_TOPUP', bool.optional()),
    yieldToLive: setting('BULK_YIELD', bool.default(true)),
  },
} as const;

type CoreLoaded = Loaded<typeof CORE_SETTINGS>;

/** Secrets printed in this repository's examples: anyone can sign tokens with them. */
const PUBLISHED_SECRETS: readonly string[] = ['change-me-to-at-least-32-random-characters'];

/** The generated colour detector `npm start` serves when no MODEL_PATH is given (`npm run models`). */
export const DEMO_MODEL_PATH = 'models/colors-v8-dyn.onnx';

export type AppConfig = Omit<
  CoreLoaded,
  'redis' | 'edgeId' | 'workerId' | 'tlsCertFile' | 'tlsKeyFile' | 'model' | 'batching'
> &
  ResolvedRedis & {
    edgeId: string;
    workerId: string;
    /** Serve https/wss from these files; both or neither. */
    tls: { certFile: string; keyFile: string } | undefined;
    model: Omit<CoreLoaded['model'], 'intraOpThreads' | 'spinSingleFrames'> & {
      intraOpThreads: number;
      spinSingleFrames: boolean;
    };
    batching: Omit<CoreLoaded['batching'], 'maxBatch' | 'engines' | 'hostFit'> & {
      maxBatch: number;
      engines: number;
      /** The start-up fit (HOST_FIT), and which of its choices settings pinned. */
      hostFit: { enabled: boolean; pinned: FitPins };
    };
  };
export type AuthConfig = AppConfig['auth'];
export type LimitsConfig = AppConfig['limits'];
export type BulkConfig = AppConfig['bulk'];

/** Validates `env` (normally `process.env`) and returns typed settings; errors name the variable. */
export function loadConfig(env: Env): AppConfig {
  const e = loadSettings(CORE_SETTINGS, env);
  const fail = (issue: string): never => {
    throw new ConfigError([issue]);
  };
  // Trimming must only ever remove frames workers already took, never the backlog itself.
  if (e.streams.maxLen < 2 * e.batching.maxQueue)
    fail(`STREAM_MAXLEN: must be at least twice MAX_QUEUE (${e.batching.maxQueue}), got ${e.streams.maxLen}`);
  const a = e.auth;
  const keySources = [a.secret, a.jwksFile, a.jwksUrl].filter((v) => v !== undefined).length;
  if (keySources > 1) fail('JWT_SECRET / JWKS_FILE / JWKS_URL: set exactly one key source');
  if (a.secret !== undefined && PUBLISHED_SECRETS.includes(a.secret))
    fail(
      'JWT_SECRET: this is the example value published in deploy/k8s/config.yaml; ' +
        'generate your own (openssl rand -hex 32)',
    );
  checkKeyRotation(a, fail);
  checkWebhookRotation('BULK_WEBHOOK_SECRET', e.bulk.webhookSecret, e.bulk.webhookPreviousSecret, fail);
  if (a.disabled === false && keySources === 0)
    fail('AUTH_DISABLED: false needs a key source (JWT_SECRET, JWKS_FILE or JWKS_URL)');
  if (Boolean(e.tlsCertFile) !== Boolean(e.tlsKeyFile)) fail('TLS_CERT_FILE / TLS_KEY_FILE: set both or neither');
  if (e.metricsPort !== undefined && e.metricsPort !== 0 && e.metricsPort === e.port)
    fail('METRICS_PORT: must differ from PORT (metrics are never public)');
  if (e.limits.maxUnfinishedBytes < e.frames.maxFrameBytes)
    fail(`MAX_UNFINISHED_BYTES: must hold at least one MAX_FRAME_BYTES message (${e.frames.maxFrameBytes})`);
  const byProvider = providerDefaults(e.model.executionProvider);
  const suffix = randomBytes(3).toString('hex');
  const redis = resolveRedis(e.redis, fail);
  const { redis: _settings, edgeId, workerId, tlsCertFile, tlsKeyFile, ...rest } = e;
  return {
    ...rest,
    ...redis,
    edgeId: edgeId ?? `edge-${hostname()}-${process.pid}-${suffix}`,
    workerId: workerId ?? `worker-${hostname()}-${process.pid}-${suffix}`,
    tls: tlsCertFile && tlsKeyFile ? { certFile: tlsCertFile, keyFile: tlsKeyFile } : undefined,
    model: {
      ...e.model,
      intraOpThreads: e.model.intraOpThreads ?? byProvider.intraOpThreads,
      spinSingleFrames: e.model.spinSingleFrames ?? byProvider.spinSingleFrames,
    },
    batching: {
      ...e.batching,
      maxBatch: e.batching.maxBatch ?? byProvider.maxBatch,
      engines: e.batching.engines ?? byProvider.engines,
      hostFit: hostFitSettings({ ...e.batching, intraOpThreads: e.model.intraOpThreads }, byProvider),
    },
  };
}

/**
 * libuv's pool runs sharp's decodes beside the file system, DNS and crypto work: the decoders
 * plus two, and never below libuv's own 4. Fixed once the pool starts (`applyThreadPoolSize`).
 */
export function threadPoolSize(config: Pick<AppConfig, 'batching'>): number {
  return Math.max(4, config.batching.decodeConcurrency + 2);
}

/**
 * Sizes libuv's pool for this process unless UV_THREADPOOL_SIZE was given: the pool starts on its
 * first job, so this runs before a role does any I/O (runMain calls it first thing).
 */
export function applyThreadPoolSize(config: Pick<AppConfig, 'batching'>): void {
  process.env['UV_THREADPOOL_SIZE'] ??= String(threadPoolSize(config));
}
