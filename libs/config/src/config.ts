import { availableParallelism, hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max: number) => z.coerce.number().min(min).max(max);
const list = z.string().transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean));
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * Every setting of every role, read from the environment once at start-up. The README's
 * configuration table is this schema in prose; keep them together.
 */
const schema = z.object({
  // Roles and wiring
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  // One URL, or (edges only) several: the shards cameras are spread over (docs/scaling.md).
  REDIS_URL: list.pipe(z.array(z.url({ protocol: /^rediss?$/ })).min(1)).optional(),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/).default('vision'),
  EDGE_ID: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  WORKER_ID: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  // Always served: orchestrators probe /healthz and /readyz there. 0 = any free port (logged).
  METRICS_PORT: int(0, 65535).default(9464),
  DEMO_ENABLED: bool.default(true),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Model
  // Required for a stand-alone worker; only the embedded demo falls back to DEMO_MODEL_PATH.
  MODEL_PATH: z.string().min(1).optional(),
  NAMES_FILE: z.string().min(1).optional(),
  // Several models: a JSON repository (docs/models.md); without it MODEL_PATH is the one model.
  MODELS_FILE: z.string().min(1).optional(),
  MODEL_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default('default'),
  MODEL_VERSION: z.string().regex(/^[A-Za-z0-9_.+-]{1,64}$/).default('1'),
  WORKER_MODELS: list.optional(),
  MODEL_MEMORY_MB: int(0, 10_000_000).default(0),
  CONF_THRESHOLD: num(0, 1).default(0.25),
  IOU_THRESHOLD: num(0, 1).default(0.45),
  MAX_DETECTIONS: int(1, 10000).default(300),
  EXECUTION_PROVIDER: z.enum(['cpu', 'cuda', 'tensorrt']).default('cpu'),
  ALLOW_PROVIDER_FALLBACK: bool.default(false),
  DEVICE_ID: int(0, 64).default(0),
  // Unset: on CPU the CPUs this process may run on (ONNX Runtime's own choice, 0, ran one thread on
  // a 2-vCPU VM; `npm run bench:model -- --threads 0`: 14.2 frames/s at batch 4, against 22.0 with
  // two); on a GPU, 0, since every batch size has its own session and pool there.
  INTRA_OP_THREADS: int(0, 1024).optional(),
  INTER_OP_THREADS: int(0, 1024).default(0),
  SPIN_SINGLE_FRAMES: bool.default(false),
  MAX_INPUT_PIXELS: int(1, 1_000_000_000).default(40_000_000),
  // Batching (worker)
  // Unset: by provider. On CPU a frame costs about the same at any batch size and a batch's frames
  // all wait for its end, so small batches (2 was the best per frame here); on a GPU, 8.
  MAX_BATCH: int(1, 256).optional(),
  MAX_WAIT_MS: int(0, 10_000).default(0),
  // Unset: by provider (see YoloModelOptions.batchSizes).
  BATCH_SIZES: list
    .pipe(z.array(z.coerce.number<string>().int().min(1).max(256)))
    .refine((a: number[]) => a.every((n, i) => i === 0 || n > a[i - 1]), 'must be ascending')
    .optional(),
  ENGINES: int(1, 64).default(1),
  // Decoders beyond the cores only slow each other (and the engine) down; libuv runs 4 at most.
  DECODE_CONCURRENCY: int(1, 256).default(Math.min(4, availableParallelism())),
  MAX_QUEUE: int(1, 100_000).default(64),
  // Frames (edge)
  FRAME_DEADLINE_MS: int(10, 600_000).default(2000),
  RESULT_MARGIN_MS: int(0, 60_000).default(1000),
  MAX_FRAME_BYTES: int(1024, 64 * 1024 * 1024).default(8 * 1024 * 1024),
  MAX_IN_FLIGHT: int(1, 1024).default(2),
  PING_INTERVAL_MS: int(100, 600_000).default(25_000),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  // Security (edge)
  AUTH_DISABLED: bool.optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (256 bits) for HS256').optional(),
  JWKS_FILE: z.string().min(1).optional(),
  JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  JWT_CLOCK_SKEW_S: int(0, 600).default(30),
  ALLOWED_ORIGINS: list.default([]),
  ALLOW_NO_ORIGIN: bool.default(true),
  TRUSTED_PROXIES: list.default([]),
  MAX_CONNECTIONS: int(1, 1_000_000).default(4096),
  MAX_CONNECTIONS_PER_IP: int(1, 1_000_000).default(32),
  MAX_CONNECTIONS_PER_SUBJECT: int(1, 1_000_000).default(64),
  MESSAGES_PER_SECOND: num(0.1, 100_000).default(60),
  FRAMES_PER_SECOND: num(0.1, 100_000).default(30),
  SUBJECT_FRAMES_PER_SECOND: num(0.1, 1_000_000).default(300),
  BYTES_PER_SECOND: int(64 * 1024, 10 * 1024 * 1024 * 1024).default(16 * 1024 * 1024),
  SUBJECT_BYTES_PER_SECOND: int(64 * 1024, 100 * 1024 * 1024 * 1024).default(32 * 1024 * 1024),
  VIOLATIONS_BEFORE_CLOSE: int(1, 100_000).default(20),
  IDLE_TIMEOUT_MS: int(1000, 3_600_000).default(60_000),
  MESSAGE_TIMEOUT_MS: int(100, 600_000).default(10_000),
  TENANT_MAX_QUEUE: int(1, 100_000).default(16),
  MAX_QUEUE_BYTES: int(1024 * 1024, 64 * 1024 * 1024 * 1024).default(256 * 1024 * 1024),
  // Decoding (worker)
  COSTLY_DECODE_MAX_PIXELS: int(1, 1_000_000_000).default(4_000_000),
  DECODE_TIMEOUT_S: int(1, 60).default(2),
  // Bulk jobs (BullMQ; need REDIS_URL)
  BULK_MAX_UPLOAD_BYTES: int(1024, 16 * 1024 * 1024 * 1024).default(256 * 1024 * 1024),
  BULK_MAX_IMAGES: int(1, 1_000_000).default(1000),
  BULK_MAX_STORED_BYTES: int(1024 * 1024, 1024 * 1024 * 1024 * 1024).default(1024 * 1024 * 1024),
  BULK_MAX_JOBS_PER_TENANT: int(1, 10_000).default(4),
  BULK_RESULT_TTL_S: int(60, 30 * 24 * 3600).default(24 * 3600),
  BULK_WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  BULK_WEBHOOK_HOSTS: list.default([]),
  BULK_JOB_CONCURRENCY: int(1, 64).default(2),
  BULK_LOCK_MS: int(1000, 600_000).default(15_000),
  // Unset: by provider (see BulkConfig).
  BULK_MAX_BATCH: int(1, 256).optional(),
  BULK_TOPUP: bool.optional(),
  BULK_YIELD: bool.default(true),
  // Redis Streams
  STREAM_MAXLEN: int(1, 10_000_000).default(1000),
  CLAIM_MIN_IDLE_MS: int(10, 600_000).default(3000),
  MAX_DELIVERIES: int(1, 100).default(3),
});

/** The generated colour detector `npm start` serves when no MODEL_PATH is given (`npm run models`). */
export const DEMO_MODEL_PATH = 'models/colors-v8-dyn.onnx';

export type Env = Record<string, string | undefined>;

export interface AppConfig {
  port: number;
  host: string;
  /** Unset: embedded mode (one process, in-memory transport). The first shard when there are several. */
  redisUrl: string | undefined;
  /** Every shard (one entry unless an edge spreads cameras over several Redis instances). */
  redisUrls: string[];
  redisPrefix: string;
  edgeId: string;
  workerId: string;
  /** Port of /metrics, /healthz and /readyz (the private ops surface); 0 = any free port. Never the public port. */
  metricsPort: number;
  /** Serve the browser demo at /demo. */
  demoEnabled: boolean;
  /** Serve https/wss from these files; both or neither. */
  tls: { certFile: string; keyFile: string } | undefined;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  /** The model repository file; unset: one model, MODEL_PATH, named `modelId`. */
  modelsFile: string | undefined;
  modelId: string;
  modelVersion: string;
  /** Models this worker serves (ids); undefined: every model of the repository that fits `modelMemoryMb`. */
  workerModels: string[] | undefined;
  /** Estimated memory a worker may spend on models; 0 = no limit. */
  modelMemoryMb: number;
  model: {
    /** Unset only where the role has its own default (the embedded demo). */
    path: string | undefined;
    namesFile: string | undefined;
    confThreshold: number;
    iouThreshold: number;
    maxDetections: number;
    executionProvider: 'cpu' | 'cuda' | 'tensorrt';
    allowProviderFallback: boolean;
    deviceId: number;
    intraOpThreads: number;
    interOpThreads: number;
    /** One-frame runs on a spinning session of their own: lower latency at low load, a busier loop at saturation. */
    spinSingleFrames: boolean;
    maxInputPixels: number;
    costlyDecodeMaxPixels: number;
    decodeTimeoutS: number;
  };
  batching: {
    maxBatch: number;
    maxWaitMs: number;
    maxQueue: number;
    engines: number;
    decodeConcurrency: number;
    /** Run sizes a dynamic model's batches are padded up to; undefined: by provider. */
    batchSizes: number[] | undefined;
  };
  frames: {
    deadlineMs: number;
    resultMarginMs: number;
    maxFrameBytes: number;
    maxInFlight: number;
    pingIntervalMs: number;
    shutdownGraceMs: number;
  };
  streams: { maxLen: number; claimMinIdleMs: number; maxDeliveries: number };
  auth: AuthConfig;
  limits: LimitsConfig;
  bulk: BulkConfig;
}

/** Bulk detection jobs (docs/jobs.md). */
export interface BulkConfig {
  maxUploadBytes: number;
  maxImages: number;
  /** Image bytes all jobs together may keep in Redis until they finish. */
  maxStoredBytes: number;
  maxJobsPerTenant: number;
  resultTtlS: number;
  /** HMAC-SHA256 key of webhook bodies; jobs with a webhook are refused without it. */
  webhookSecret: string | undefined;
  /** Hosts webhooks may go to (exact, or `*.example.com`); empty = any. */
  webhookHosts: string[];
  /** Jobs one worker runs at once (their images share its spare capacity round-robin by tenant). */
  jobConcurrency: number;
  /** A job whose worker stopped renewing its lock this long is taken over by another worker. */
  lockMs: number;
  /**
   * Most bulk images in one batch, and whether they may top up a batch of real-time frames.
   * Undefined: on GPU providers MAX_BATCH and yes (a fuller batch costs little there); on CPU 1
   * and no, since every real-time frame waits for the bulk batch in progress.
   */
  maxBatch: number | undefined;
  topUp: boolean | undefined;
  /** Start bulk-only batches only when they should end before the next live frame is due. */
  yieldToLive: boolean;
}

/** `disabled` is only ever true when AUTH_DISABLED=true, or for the embedded demo with no key source. */
export interface AuthConfig {
  /** Explicit AUTH_DISABLED; undefined = not said (roles decide what a missing key source means). */
  disabled: boolean | undefined;
  secret: string | undefined;
  jwksFile: string | undefined;
  jwksUrl: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  clockSkewS: number;
  allowedOrigins: string[];
  allowNoOrigin: boolean;
  trustedProxies: string[];
}

export interface LimitsConfig {
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxConnectionsPerSubject: number;
  messagesPerSecond: number;
  framesPerSecond: number;
  subjectFramesPerSecond: number;
  /** Read rate per connection, and per subject on one edge (sockets over it are paused). */
  bytesPerSecond: number;
  subjectBytesPerSecond: number;
  violationsBeforeClose: number;
  idleTimeoutMs: number;
  messageTimeoutMs: number;
  tenantMaxQueue: number;
  maxQueueBytes: number;
}

export class ConfigError extends Error {
  readonly code = 'E_CONFIG';
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Validates `env` (normally `process.env`) and returns typed settings; errors name the variable. */
export function loadConfig(env: Env): AppConfig {
  // Empty strings mean "unset" so `FOO= npm start` behaves like not setting FOO.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  if (e.STREAM_MAXLEN < 2 * e.MAX_QUEUE) {
    // Trimming must only ever remove frames workers already took, never the backlog itself.
    throw new ConfigError([`STREAM_MAXLEN: must be at least twice MAX_QUEUE (${e.MAX_QUEUE}), got ${e.STREAM_MAXLEN}`]);
  }
  // Defaults that depend on the provider (see the schema's comments on INTRA_OP_THREADS and MAX_BATCH).
  const byProvider = e.EXECUTION_PROVIDER === 'cpu' ? { intraOpThreads: availableParallelism(), maxBatch: 2 } : { intraOpThreads: 0, maxBatch: 8 };
  const keySources = [e.JWT_SECRET, e.JWKS_FILE, e.JWKS_URL].filter((v) => v !== undefined).length;
  if (keySources > 1) throw new ConfigError(['JWT_SECRET / JWKS_FILE / JWKS_URL: set exactly one key source']);
  if (e.AUTH_DISABLED === false && keySources === 0) {
    throw new ConfigError(['AUTH_DISABLED: false needs a key source (JWT_SECRET, JWKS_FILE or JWKS_URL)']);
  }
  if (Boolean(e.TLS_CERT_FILE) !== Boolean(e.TLS_KEY_FILE)) throw new ConfigError(['TLS_CERT_FILE / TLS_KEY_FILE: set both or neither']);
  if (e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) throw new ConfigError(['METRICS_PORT: must differ from PORT (metrics are never public)']);
  const suffix = randomBytes(3).toString('hex');
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL?.[0],
    redisUrls: e.REDIS_URL ?? [],
    redisPrefix: e.REDIS_PREFIX,
    edgeId: e.EDGE_ID ?? `edge-${hostname()}-${process.pid}-${suffix}`,
    workerId: e.WORKER_ID ?? `worker-${hostname()}-${process.pid}-${suffix}`,
    metricsPort: e.METRICS_PORT,
    demoEnabled: e.DEMO_ENABLED,
    tls: e.TLS_CERT_FILE && e.TLS_KEY_FILE ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE } : undefined,
    logLevel: e.LOG_LEVEL,
    modelsFile: e.MODELS_FILE,
    modelId: e.MODEL_ID,
    modelVersion: e.MODEL_VERSION,
    workerModels: e.WORKER_MODELS,
    modelMemoryMb: e.MODEL_MEMORY_MB,
    model: {
      path: e.MODEL_PATH,
      namesFile: e.NAMES_FILE,
      confThreshold: e.CONF_THRESHOLD,
      iouThreshold: e.IOU_THRESHOLD,
      maxDetections: e.MAX_DETECTIONS,
      executionProvider: e.EXECUTION_PROVIDER,
      allowProviderFallback: e.ALLOW_PROVIDER_FALLBACK,
      deviceId: e.DEVICE_ID,
      intraOpThreads: e.INTRA_OP_THREADS ?? byProvider.intraOpThreads,
      interOpThreads: e.INTER_OP_THREADS,
      spinSingleFrames: e.SPIN_SINGLE_FRAMES,
      maxInputPixels: e.MAX_INPUT_PIXELS,
      costlyDecodeMaxPixels: e.COSTLY_DECODE_MAX_PIXELS,
      decodeTimeoutS: e.DECODE_TIMEOUT_S,
    },
    batching: { maxBatch: e.MAX_BATCH ?? byProvider.maxBatch, maxWaitMs: e.MAX_WAIT_MS, maxQueue: e.MAX_QUEUE, engines: e.ENGINES, decodeConcurrency: e.DECODE_CONCURRENCY, batchSizes: e.BATCH_SIZES },
    frames: {
      deadlineMs: e.FRAME_DEADLINE_MS,
      resultMarginMs: e.RESULT_MARGIN_MS,
      maxFrameBytes: e.MAX_FRAME_BYTES,
      maxInFlight: e.MAX_IN_FLIGHT,
      pingIntervalMs: e.PING_INTERVAL_MS,
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    },
    streams: { maxLen: e.STREAM_MAXLEN, claimMinIdleMs: e.CLAIM_MIN_IDLE_MS, maxDeliveries: e.MAX_DELIVERIES },
    auth: {
      disabled: e.AUTH_DISABLED,
      secret: e.JWT_SECRET,
      jwksFile: e.JWKS_FILE,
      jwksUrl: e.JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      clockSkewS: e.JWT_CLOCK_SKEW_S,
      allowedOrigins: e.ALLOWED_ORIGINS,
      allowNoOrigin: e.ALLOW_NO_ORIGIN,
      trustedProxies: e.TRUSTED_PROXIES,
    },
    bulk: {
      maxUploadBytes: e.BULK_MAX_UPLOAD_BYTES,
      maxImages: e.BULK_MAX_IMAGES,
      maxStoredBytes: e.BULK_MAX_STORED_BYTES,
      maxJobsPerTenant: e.BULK_MAX_JOBS_PER_TENANT,
      resultTtlS: e.BULK_RESULT_TTL_S,
      webhookSecret: e.BULK_WEBHOOK_SECRET,
      webhookHosts: e.BULK_WEBHOOK_HOSTS,
      jobConcurrency: e.BULK_JOB_CONCURRENCY,
      lockMs: e.BULK_LOCK_MS,
      maxBatch: e.BULK_MAX_BATCH,
      topUp: e.BULK_TOPUP,
      yieldToLive: e.BULK_YIELD,
    },
    limits: {
      maxConnections: e.MAX_CONNECTIONS,
      maxConnectionsPerIp: e.MAX_CONNECTIONS_PER_IP,
      maxConnectionsPerSubject: e.MAX_CONNECTIONS_PER_SUBJECT,
      messagesPerSecond: e.MESSAGES_PER_SECOND,
      framesPerSecond: e.FRAMES_PER_SECOND,
      subjectFramesPerSecond: e.SUBJECT_FRAMES_PER_SECOND,
      bytesPerSecond: e.BYTES_PER_SECOND,
      subjectBytesPerSecond: e.SUBJECT_BYTES_PER_SECOND,
      violationsBeforeClose: e.VIOLATIONS_BEFORE_CLOSE,
      idleTimeoutMs: e.IDLE_TIMEOUT_MS,
      messageTimeoutMs: e.MESSAGE_TIMEOUT_MS,
      tenantMaxQueue: e.TENANT_MAX_QUEUE,
      maxQueueBytes: e.MAX_QUEUE_BYTES,
    },
  };
}

