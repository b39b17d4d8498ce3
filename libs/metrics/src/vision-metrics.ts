import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Sampling interval of the event-loop delay histogram, in ms (prom-client's default). */
export const EVENT_LOOP_SAMPLE_MS = 10;

export interface BulkStats {
  jobs: Record<string, number>;
  storedBytes: number;
}

export interface QueueStats {
  backlog: number | undefined;
  pending: number | undefined;
}

/** Distinct stream ids with their own series, per process. */
export const MAX_STREAM_LABELS = 500;

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Every Prometheus metric the service exports, in one registry per process. Edges and workers
 * only touch their own half; the embedded server exports both.
 */
export class VisionMetrics {
  readonly registry = new Registry();

  readonly edgeConnections = new Gauge({
    name: 'vision_edge_connections',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  });
  readonly edgeFrames = this.counter(
    'vision_edge_frames_total',
    'Frames the edge answered, by outcome (result or an error code)',
    ['outcome'],
  );
  readonly edgeRejections = this.counter(
    'vision_edge_rejections_total',
    'Connections, requests and messages refused by authentication or limits, by error code',
    ['code'],
  );
  /**
   * Per camera: frames answered with a result (its rate is the stream's fps), skipped (replaced
   * by a newer frame or expired waiting) or failed. Stream ids are client-chosen, so only the first
   * MAX_STREAM_LABELS get their own series; the rest share `_other` (memory stays bounded).
   */
  readonly edgeStreamFrames = this.counter(
    'vision_edge_stream_frames_total',
    'Frames per client stream id, by outcome (result, skipped, error)',
    ['stream', 'outcome'],
  );
  private readonly streamLabels = new Set<string>();
  readonly edgeLatency = this.histogram(
    'vision_edge_frame_seconds',
    'Edge receive to reply, for frames answered with a result',
  );
  // Worker series carry the model id: batches never mix models, so batch size and busy time are per model.
  readonly workerBatchSize = this.histogram(
    'vision_worker_batch_size',
    'Frames per batch (padding not counted)',
    ['model'],
    [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64],
  );
  readonly workerInference = this.histogram('vision_worker_inference_seconds', 'session.run time per batch', ['model']);
  readonly workerPreprocess = this.histogram('vision_worker_preprocess_seconds', 'Decode + letterbox time per frame', [
    'model',
  ]);
  readonly workerQueueWait = this.histogram('vision_worker_queue_wait_seconds', 'Edge receive to worker pick-up', [
    'model',
  ]);
  readonly workerBusy = this.counter(
    'vision_worker_busy_seconds_total',
    'Time spent in inference; its rate is the accelerator busy fraction',
    ['model'],
  );
  readonly workerFrames = this.counter(
    'vision_worker_frames_total',
    'Frames a worker finished, by model and outcome (result or an error code)',
    ['model', 'outcome'],
  );

  readonly workerBulkBusy = this.counter(
    'vision_worker_bulk_busy_seconds_total',
    'The share of inference time spent on bulk-job images (batch time × their share of the batch)',
    ['model'],
  );
  readonly workerBulkImages = this.counter(
    'vision_bulk_images_total',
    'Bulk-job images a worker finished (its rate is bulk images/s)',
    ['model'],
  );
  private bulkSource: (() => Promise<BulkStats>) | undefined;
  readonly bulkJobs = new Gauge({
    name: 'vision_bulk_jobs',
    help: 'Bulk jobs by BullMQ state (waiting, active, delayed, failed), read at scrape time',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: async () => {
      const b = await this.bulkSource?.().catch(() => undefined);
      if (!b) return;
      for (const [state, n] of Object.entries(b.jobs)) this.bulkJobs.set({ state }, n);
      this.bulkStoredBytes.set(b.storedBytes);
    },
  });
  readonly bulkStoredBytes = new Gauge({
    name: 'vision_bulk_stored_bytes',
    help: 'Image bytes of unfinished bulk jobs held in Redis (bounded by BULK_MAX_STORED_BYTES)',
    registers: [this.registry],
  });
  readonly workerReclaimed = this.counter(
    'vision_worker_reclaimed_frames_total',
    'Frames taken over from a consumer that stopped answering (XAUTOCLAIM)',
  );
  readonly workerDeadLetters = this.counter(
    'vision_worker_dead_letters_total',
    'Frames delivered too often, dead-lettered and answered E_DEAD_LETTER',
  );
  readonly workerFrameWindow = this.counter(
    'vision_worker_frame_window_total',
    'Camera frames offered to the frame window for snapshots, by outcome (kept, repeat, too_large, full)',
    ['outcome'] as const,
  );
  // Read from the queue at scrape time (one query fills both), so every process that knows the
  // queue reports the same figure: dashboards take max() over instances.
  private queueSource: (() => Promise<QueueStats>) | undefined;
  readonly queueBacklog = new Gauge({
    name: 'vision_queue_backlog_frames',
    help: 'Frames waiting for a worker (the consumer group lag)',
    registers: [this.registry],
    collect: async () => {
      const q = await this.queueSource?.().catch(() => undefined);
      if (q?.backlog !== undefined) this.queueBacklog.set(q.backlog);
      if (q?.pending !== undefined) this.queuePending.set(q.pending);
    },
  });
  readonly queuePending = new Gauge({
    name: 'vision_queue_pending_frames',
    help: 'Frames delivered to a worker and not yet acknowledged',
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    // nodejs_eventloop_lag_* record the whole sampling interval (10 ms here): delay beyond it is value − 10 ms.
    if (opts.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** Counts one frame of a client stream (frames without a stream id are not counted per stream). */
  streamFrame(streamId: string, outcome: 'result' | 'skipped' | 'error'): void {
    let stream = streamId;
    if (!this.streamLabels.has(stream)) {
      if (this.streamLabels.size >= MAX_STREAM_LABELS) stream = '_other';
      else this.streamLabels.add(stream);
    }
    this.edgeStreamFrames.inc({ stream, outcome });
  }

  /** Where the bulk-job gauges read from at scrape time. */
  observeBulk(source: () => Promise<BulkStats>): void {
    this.bulkSource = source;
  }

  /** Where the queue gauges read from at scrape time. */
  observeQueue(source: () => Promise<QueueStats>): void {
    this.queueSource = source;
  }

  private counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets: number[] = LATENCY_BUCKETS,
  ): Histogram<L> {
    return new Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
