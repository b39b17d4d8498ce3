import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { EVENT_LOOP_SAMPLE_MS } from './vision-metrics';

/**
 * Where a frame of a camera got to: taken from the source, sent to an edge, skipped (a newer one
 * replaced it), answered.
 */
const FRAME_STAGES = ['in', 'sent', 'skipped', 'result', 'error'] as const;

/** What the scrape-time gauges read of each camera. */
export interface CameraGauges {
  id: string;
  /** One of the states given to `observeCameras` (the gateway's `CameraState`). */
  state: string;
  /** Epoch ms of the last frame from the source; undefined before the first. */
  lastFrameAt: number | undefined;
}

const RESULT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The camera gateway's Prometheus metrics, one registry per process. The `camera` label is bounded:
 * a gateway serves at most GATEWAY_MAX_CAMERAS cameras, and a removed camera's series go with it.
 * Camera ids never carry credentials (URLs are never labels).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly frames = new Counter({
    name: 'vision_gateway_frames_total',
    help:
      'Frames per camera by stage: in (from the source at the camera fps), sent (to an edge), ' +
      'skipped (replaced by a newer frame), result, error',
    labelNames: ['camera', 'stage'] as const,
    registers: [this.registry],
  });
  readonly reconnects = new Counter({
    name: 'vision_gateway_reconnects_total',
    help: 'Times a camera source was restarted after it failed, ended or stalled',
    labelNames: ['camera'] as const,
    registers: [this.registry],
  });
  readonly resultLatency = new Histogram({
    name: 'vision_gateway_result_seconds',
    help: 'Capture (frame cut from the source) to result, per camera',
    labelNames: ['camera'] as const,
    buckets: RESULT_BUCKETS,
    registers: [this.registry],
  });
  // Recording (GATEWAY_RECORD_DIR): what the retention sweep found and did, every camera together.
  readonly recordBytes = new Gauge({
    name: 'vision_gateway_record_bytes',
    help: 'Bytes of recorded segments on disk (every camera), as of the last retention sweep',
    registers: [this.registry],
  });
  readonly recordSegments = new Gauge({
    name: 'vision_gateway_record_segments',
    help: 'Recorded segment files on disk (every camera), as of the last retention sweep',
    registers: [this.registry],
  });
  readonly recordDeleted = new Counter({
    name: 'vision_gateway_record_deleted_total',
    help: 'Recorded segments deleted by the sweep: retention (too old) or budget (over GATEWAY_RECORD_MAX_BYTES)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly recordFailures = new Counter({
    name: 'vision_gateway_record_failures_total',
    help: 'Retention sweeps that failed, and segments the sweep could not delete',
    registers: [this.registry],
  });
  private source: () => CameraGauges[] = () => [];
  private states: readonly string[] = [];
  readonly lastFrameAge = new Gauge({
    name: 'vision_gateway_last_frame_age_seconds',
    help: 'Seconds since the camera last delivered a frame (absent before its first)',
    labelNames: ['camera'] as const,
    registers: [this.registry],
    collect: () => {
      const now = Date.now();
      this.lastFrameAge.reset();
      for (const c of this.source())
        if (c.lastFrameAt !== undefined) this.lastFrameAge.set({ camera: c.id }, (now - c.lastFrameAt) / 1000);
    },
  });
  readonly cameraState = new Gauge({
    name: 'vision_gateway_camera_state',
    help: '1 for the state each camera is in (connecting, streaming, backoff, stopped), 0 for the others',
    labelNames: ['camera', 'state'] as const,
    registers: [this.registry],
    collect: () => {
      this.cameraState.reset();
      for (const c of this.source())
        for (const s of this.states) this.cameraState.set({ camera: c.id, state: s }, s === c.state ? 1 : 0);
    },
  });
  readonly cameras = new Gauge({
    name: 'vision_gateway_cameras',
    help: 'Cameras this gateway serves, by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => {
      const cameras = this.source();
      for (const s of this.states) this.cameras.set({ state: s }, cameras.filter((c) => c.state === s).length);
    },
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** Where the gauges read from at scrape time, and every state a camera can be in (each gets a series). */
  observeCameras(states: readonly string[], source: () => CameraGauges[]): void {
    this.states = states;
    this.source = source;
  }

  /** Drops every series of a removed camera. */
  forget(camera: string): void {
    for (const stage of FRAME_STAGES) this.frames.remove({ camera, stage });
    this.reconnects.remove({ camera });
    this.resultLatency.remove({ camera });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
