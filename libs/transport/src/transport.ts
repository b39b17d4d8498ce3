import { TIMINGS, type AppConfig } from '@vision/config';
import type { ResultsEntry } from '@vision/results-stream';
import type { AdmissionLimits } from './admission';
import type { FrameJob, FrameOutcomeMessage, ModelAnnouncement } from './frame-job';

/** A frame a worker took from the queue. */
export interface Delivery {
  /** Queue-level id (a stream entry id in Redis). */
  id: string;
  job: FrameJob;
  /** How many times this frame has been handed to a worker, this time included. */
  deliveryCount: number;
  /** Epoch ms when this worker took it. */
  pickedAt: number;
}

export interface CompletedFrame {
  delivery: Delivery;
  outcome: FrameOutcomeMessage;
  /** A camera frame's detections for the results stream (low tier included), when recorded. */
  record?: ResultsEntry;
}

/** Live workers of a model, and its consumer group's backlog and pending frames. */
export interface QueueCounts {
  /** Workers that reported in recently. */
  workers: number;
  /** Frames waiting for a worker, when known. */
  backlog: number | undefined;
  /** Frames handed to a worker and not yet finished, when known. */
  pending: number | undefined;
}

export interface TransportHealth extends QueueCounts {
  /** The queue (Redis, or the in-process queue) answers. */
  reachable: boolean;
}

/**
 * Several models (or shards) as one: the fewest live workers any has (0: some model has none),
 * backlog and pending summed (unknown if any is unknown).
 */
export function combineQueues(qs: readonly QueueCounts[]): TransportHealth {
  const sum = (f: (q: QueueCounts) => number | undefined) =>
    qs.reduce<number | undefined>((acc, q) => (acc === undefined || f(q) === undefined ? undefined : acc + f(q)!), 0);
  return {
    reachable: true,
    workers: qs.length ? Math.min(...qs.map((q) => q.workers)) : 0,
    backlog: sum((q) => q.backlog),
    pending: sum((q) => q.pending),
  };
}

/** One model as the queue sees it: live workers, frames waiting, and what its workers announced. */
export interface ModelStatus extends QueueCounts {
  /** Absent until a worker of the model has loaded it. */
  announced: ModelAnnouncement | undefined;
}

export function admissionFrom(config: Pick<AppConfig, 'batching' | 'limits'>): AdmissionLimits {
  return {
    maxQueue: config.batching.maxQueue,
    tenantMaxQueue: config.limits.tenantMaxQueue,
    maxQueueBytes: config.limits.maxQueueBytes,
    tenantFramesPerSecond: config.limits.subjectFramesPerSecond,
  };
}

/** A worker transport's stream settings, from the config (failure recovery) and the internal timings. */
export function workerStreamOptions(config: Pick<AppConfig, 'streams'>) {
  return {
    claimMinIdleMs: config.streams.claimMinIdleMs,
    maxDeliveries: config.streams.maxDeliveries,
    heartbeatMs: TIMINGS.workerHeartbeatMs,
    minBackoffMs: TIMINGS.readBackoffMinMs,
    maxBackoffMs: TIMINGS.readBackoffMaxMs,
  };
}

/** Open frames of a tenant stop counting against its share at `deadline + SHARE_MARGIN_MS` at the latest. */
export const SHARE_MARGIN_MS = 5000;

/** A connection slot held for an address and a subject, shared by every edge. */
export interface ConnectionLease {
  connId: string;
  /** Undefined: the connection does not count against its address (a camera gateway's). */
  ip: string | undefined;
  subject: string;
}

/** Concurrent connections per address and per subject, across edges. */
export interface ConnectionLeases {
  /** `ok`, or which limit refused it. Rejects with `E_UNAVAILABLE` when the store cannot be reached. */
  acquire(lease: ConnectionLease, limits: { perIp: number; perSubject: number }): Promise<'ok' | 'ip' | 'subject'>;
  release(lease: ConnectionLease): Promise<void>;
  close(): Promise<void>;
}

/** What an edge needs: enqueue frames, receive the outcomes addressed to it. */
export interface EdgeTransport {
  readonly kind: 'memory' | 'redis';
  /** Starts delivering this edge's outcomes to `onOutcome`. */
  start(edgeId: string, onOutcome: (m: FrameOutcomeMessage) => void): Promise<void>;
  /**
   * Enqueues a frame; rejects with `E_OVERLOADED` (backlog, tenant share or byte budget full),
   * `E_RATE_LIMITED` (tenant frame rate, with `retryAfterMs`) or `E_UNAVAILABLE` (queue unreachable,
   * or no worker has reported in: the frame would only wait out its deadline).
   */
  submit(job: FrameJob): Promise<void>;
  /** Over `models`: `workers` is the fewest any of them has, backlog and pending are summed. */
  health(models: readonly string[]): Promise<TransportHealth>;
  /** Each model's status; rejects with `E_UNAVAILABLE` when the queue cannot be reached. */
  models(ids: readonly string[]): Promise<Record<string, ModelStatus>>;
  /**
   * Called whenever the connection to the queue drops: frames in flight then have an unknown
   * fate. Transports that cannot lose a connection (in-process) omit it.
   */
  onConnectionLost?(listener: () => void): void;
  close(): Promise<void>;
}

/** What a worker needs: take frames, hand back outcomes (publish, then acknowledge). */
export interface WorkerTransport {
  readonly kind: 'memory' | 'redis';
  /** The model whose frames this transport reads. */
  readonly model: string;
  start(workerId: string): Promise<void>;
  /** Up to `max` frames, waiting at most `blockMs` for the first one. Never throws: failures back off and return []. */
  read(max: number, blockMs: number): Promise<Delivery[]>;
  /** Publishes each outcome to its edge and acknowledges the frame. */
  complete(frames: CompletedFrame[]): Promise<void>;
  health(): Promise<TransportHealth>;
  /** Tells edges (GET /v1/models) what this worker loaded. */
  announce(a: ModelAnnouncement): Promise<void>;
  close(): Promise<void>;
}
