import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Every Prometheus metric the service exports, in one registry per process. Edges and workers
 * only touch their own half; the embedded server exports both.
 */
export class VisionMetrics {
  readonly registry = new Registry();

  readonly edgeConnections = new Gauge({ name: 'vision_edge_connections', help: 'Open WebSocket connections', registers: [this.registry] });
  readonly edgeFrames = new Counter({
    name: 'vision_edge_frames_total',
    help: 'Frames the edge answered, by outcome (result or an error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly edgeLatency = new Histogram({
    name: 'vision_edge_frame_seconds',
    help: 'Edge receive to reply, for frames answered with a result',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly workerBatchSize = new Histogram({
    name: 'vision_worker_batch_size',
    help: 'Frames per session.run',
    buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64],
    registers: [this.registry],
  });
  readonly workerInference = new Histogram({
    name: 'vision_worker_inference_seconds',
    help: 'session.run time per batch',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly workerPreprocess = new Histogram({
    name: 'vision_worker_preprocess_seconds',
    help: 'Decode + letterbox time per batch',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly workerQueueWait = new Histogram({
    name: 'vision_worker_queue_wait_seconds',
    help: 'Edge receive to worker pick-up',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly workerBusy = new Counter({
    name: 'vision_worker_busy_seconds_total',
    help: 'Time spent in inference; its rate is the accelerator busy fraction',
    registers: [this.registry],
  });
  readonly workerFrames = new Counter({
    name: 'vision_worker_frames_total',
    help: 'Frames a worker finished, by outcome (result or an error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
