import type { Logger } from 'pino';
import { Backoff, type FrameOutcome, type VisionClient } from '@vision/client';
import type { GatewayConfig } from '@vision/config';
import type { GatewayMetrics } from '@vision/metrics';
import { VisionError, type ErrorCode } from '@vision/wire';
import type { CameraSpec } from './camera-spec';
import type { CameraState } from './camera-state';
import { cameraView, type CameraCounts, type CameraView, type LastResult } from './camera-view';
import type { EdgeLinkFactory } from './edge-link';
import type { FrameSource, SourceEnd, SourceHandlers } from './frame-source';
import { scrubberFor } from './redact';
import { sourceKinds } from './sources/registry';
import { openSource } from './sources/open-source';
import type { HttpInput, SourceKindDefinition } from './sources/source-kind';

export interface RunnerContext {
  config: GatewayConfig;
  log: Logger;
  metrics: GatewayMetrics;
  edge: EdgeLinkFactory;
}

/** Why a camera is stopped. */
type StopReason = 'disabled' | 'paused' | 'ended' | 'removed';

/** Results kept for the camera's rate and latency figures (bounded). */
const RESULT_WINDOW = 256;

/**
 * One camera's life: `connecting → streaming → backoff → connecting …`, or `stopped` (disabled,
 * paused, a file that ended, removed). Reconnects follow the client SDK's backoff (CAMERA_BACKOFF_*:
 * 1 s × 1.5 up to 30 s, ± 20 % jitter, reset after a stable minute); a watchdog restarts a source
 * that delivers no frame for CAMERA_STALL_TIMEOUT_MS. Every frame gets a per-camera frame id and its
 * capture time (when the gateway cut it from the source) and goes to the edge on the camera's own
 * connection, where pacing keeps only the newest waiting frame.
 */
export class CameraRunner {
  state: CameraState = 'stopped';
  private since = Date.now();
  private stopReason: StopReason | undefined;
  private lastError: { code: ErrorCode; message: string; at: number } | undefined;
  private paused: boolean;
  private source: FrameSource | undefined;
  /** Set once a camera read in Node turned out to need ffmpeg (an HTTP camera too large, or not MJPEG). */
  private ffmpegInput: HttpInput | undefined;
  private readonly backoff: Backoff;
  private retryAt: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private attemptAt = 0;
  private failures = 0;
  /** Bumped whenever a source is abandoned, so its late callbacks are ignored. */
  private gen = 0;
  private client: VisionClient | undefined;
  private closed = false;
  private readonly reaping = new Set<Promise<void>>();
  private frameSeq = 0;
  private last: { jpeg: Buffer; at: number; frameId: number } | undefined;
  private readonly counts: CameraCounts = { in: 0, sent: 0, skipped: 0, results: 0, errors: 0, reconnects: 0 };
  private readonly results: { at: number; latencyMs: number }[] = [];
  private lastResult: LastResult | undefined;
  private lastEdgeError: { code: string; at: number } | undefined;
  private readonly scrub: (text: string) => string;
  private readonly log: Logger;
  private readonly kind: SourceKindDefinition;

  constructor(
    readonly spec: CameraSpec,
    private readonly ctx: RunnerContext,
    opts: { paused: boolean },
  ) {
    this.paused = opts.paused;
    this.backoff = new Backoff(ctx.config.backoff);
    this.scrub = scrubberFor(spec.url);
    this.kind = sourceKinds.named(spec.kind);
    this.log = ctx.log.child({ camera: spec.id });
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get lastFrameAt(): number | undefined {
    return this.last?.at;
  }

  /** The newest frame, for snapshots. */
  get lastFrame(): { jpeg: Buffer; at: number; frameId: number } | undefined {
    return this.last;
  }

  /** Starts pulling frames, unless the camera is disabled or paused. */
  start(): void {
    if (!this.spec.enabled) return this.toStopped('disabled');
    if (this.paused) return this.toStopped('paused');
    this.connect();
  }

  pause(): void {
    this.paused = true;
    this.abandonSource();
    this.toStopped('paused');
  }

  resume(): void {
    this.paused = false;
    if (this.state === 'stopped' && this.spec.enabled) this.connect();
  }

  /** Ends the camera for good: its child is killed and reaped, its edge socket closed, its series dropped. */
  async stop(): Promise<void> {
    this.closed = true;
    this.abandonSource();
    this.toStopped('removed');
    await Promise.all(this.reaping);
    this.ctx.metrics.forget(this.spec.id);
  }

  view(): CameraView {
    return cameraView({
      spec: this.spec,
      state: this.state,
      since: this.since,
      stopReason: this.stopReason,
      paused: this.paused,
      lastError: this.lastError,
      retryAt: this.retryAt,
      failures: this.failures,
      mode: this.source?.mode,
      pid: this.source?.pid,
      counts: this.counts,
      last: this.last,
      results: this.results,
      lastResult: this.lastResult,
      lastEdgeError: this.lastEdgeError,
      edgeState: this.client?.state,
    });
  }

  private connect(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryAt = undefined;
    const gen = ++this.gen;
    this.setState('connecting');
    this.attemptAt = Date.now();
    this.client ??= this.openClient();
    this.watchdog ??= setInterval(() => this.checkStall(), Math.min(1000, this.ctx.config.camera.stallTimeoutMs / 4));
    const handlers: SourceHandlers = {
      frame: (jpeg) => {
        if (gen === this.gen) this.onFrame(jpeg);
      },
      ended: (why) => {
        if (gen === this.gen) this.onEnded(why);
      },
    };
    this.source = openSource(
      { spec: this.spec, kind: this.kind, config: this.ctx.config, readAs: this.ffmpegInput, scrub: this.scrub },
      handlers,
    );
  }

  private onFrame(jpeg: Buffer): void {
    const now = Date.now();
    if (this.state !== 'streaming') {
      this.setState('streaming');
      this.backoff.opened(now);
      this.failures = 0;
      this.log.info({ mode: this.source?.mode, pid: this.source?.pid }, 'camera streaming');
    }
    this.frameSeq = (this.frameSeq + 1) >>> 0;
    const frameId = this.frameSeq;
    this.last = { jpeg, at: now, frameId };
    this.counts.in++;
    this.ctx.metrics.frames.inc({ camera: this.spec.id, stage: 'in' });
    const client = this.client!;
    void client.send(jpeg, { streamId: this.spec.id, captureTs: now }).then((o) => this.onOutcome(o, now));
  }

  private onOutcome(o: FrameOutcome, capturedAt: number): void {
    if (this.closed) return; // the camera is gone: its series must not come back
    const camera = this.spec.id;
    if (o.status === 'skipped') {
      this.counts.skipped++;
      this.ctx.metrics.frames.inc({ camera, stage: 'skipped' });
      return;
    }
    this.counts.sent++;
    this.ctx.metrics.frames.inc({ camera, stage: 'sent' });
    const now = Date.now();
    if (o.status === 'result') {
      const latencyMs = now - capturedAt;
      this.counts.results++;
      this.ctx.metrics.frames.inc({ camera, stage: 'result' });
      this.ctx.metrics.resultLatency.observe({ camera }, latencyMs / 1000);
      this.results.push({ at: now, latencyMs });
      if (this.results.length > RESULT_WINDOW) this.results.shift();
      const r = o.result;
      this.lastResult = {
        frameId: r.frameId,
        captureTs: capturedAt,
        at: now,
        latencyMs,
        model: r.model,
        detections: r.detections,
      };
    } else {
      this.counts.errors++;
      this.ctx.metrics.frames.inc({ camera, stage: 'error' });
      this.lastEdgeError = { code: o.error.code, at: now };
    }
  }

  private onEnded(why: SourceEnd): void {
    this.abandonSource();
    if (!(why instanceof VisionError)) {
      this.ffmpegInput = why.useFfmpeg;
      this.log.info({ reason: why.reason, input: why.useFfmpeg }, 'camera read through ffmpeg from now on');
      return this.connect();
    }
    const now = Date.now();
    this.lastError = { code: why.code, message: this.scrub(why.message), at: now };
    if (why.code === 'E_CAMERA_ENDED' && this.kind.stopsAtEnd?.(this.spec)) {
      this.log.info({ code: why.code }, 'camera file ended');
      return this.toStopped('ended');
    }
    const delay = this.backoff.next(now);
    this.failures++;
    this.counts.reconnects++;
    this.ctx.metrics.reconnects.inc({ camera: this.spec.id });
    this.retryAt = now + delay;
    this.setState('backoff');
    this.log.warn(
      { code: why.code, err: this.lastError.message, delayMs: delay, attempt: this.failures },
      'camera backoff',
    );
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private checkStall(): void {
    const now = Date.now();
    const stall = this.ctx.config.camera.stallTimeoutMs;
    const silentSince =
      this.state === 'connecting' ? this.attemptAt : this.state === 'streaming' ? this.last?.at : undefined;
    if (silentSince !== undefined && now - silentSince > stall)
      this.onEnded(new VisionError('E_CAMERA_STALLED', `no frame for ${stall} ms`));
  }

  /** Stops the current source (its child is reaped in the background, tracked until `stop()`). */
  private abandonSource(): void {
    this.gen++;
    const old = this.source;
    this.source = undefined;
    if (!old) return;
    const p = old
      .stop()
      .catch((err: unknown) => this.log.error({ err: this.scrub(String(err)) }, 'stopping the source failed'));
    this.reaping.add(p);
    void p.finally(() => this.reaping.delete(p));
  }

  private toStopped(reason: StopReason): void {
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.retryAt = undefined;
    this.stopReason = reason;
    this.client?.close();
    this.client = undefined;
    this.setState('stopped');
  }

  private openClient(): VisionClient {
    const client = this.ctx.edge(this.spec.id, this.spec.model);
    client.on('state', ({ state, retryInMs }) => this.log.debug({ edge: state, retryInMs }, 'edge connection'));
    return client;
  }

  private setState(state: CameraState): void {
    if (state !== 'stopped') this.stopReason = undefined;
    if (state === this.state) return;
    this.state = state;
    this.since = Date.now();
  }
}
