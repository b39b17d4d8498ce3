import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { EventsConfig } from '@vision/config';
import {
  FsSnapshotStore,
  snapshotPath,
  SnapshotWriter,
  sweepSnapshots,
  type SnapshotStore,
  type SnapshotSubject,
} from '@vision/evidence';
import { FrameWindowReader, POLICY_REFRESH_MS } from '@vision/frame-window';
import type { EventsMetrics } from '@vision/metrics';
import { throttledWarn } from '@vision/runtime';
import type { SiteEvent } from './site-event';

/** Decoding a kept frame refuses more pixels than this (the edge's own default limit). */
const MAX_INPUT_PIXELS = 40_000_000;
/** The policy outlives this many missed refreshes before workers stop keeping frames. */
const POLICY_TTL_REFRESHES = 3;

export interface EvidenceDeps {
  /** One connection per frames Redis (REDIS_URL order): where workers keep frames. */
  frames: readonly Redis[];
  /** Which frames Redis a shard's results come from. */
  redisOfShard(shard: number): number;
  /** The cameras that have rules now. */
  camerasWithRules(): string[];
  prefix: string;
  metrics: EventsMetrics;
  log: Logger;
}

/**
 * The events service's evidence (docs/events.md#snapshots): tells workers which cameras' frames to
 * keep, marks track events with their snapshot's path, renders each snapshot after its commit, and
 * keeps the store within its retention.
 */
export class EventEvidence {
  readonly store: SnapshotStore;
  private readonly writer: SnapshotWriter;
  private readonly readers: FrameWindowReader[];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly warn: ReturnType<typeof throttledWarn>;
  private sweeping: Promise<void> = Promise.resolve();

  constructor(
    private readonly cfg: EventsConfig['snapshots'] & { dir: string },
    private readonly deps: EvidenceDeps,
  ) {
    this.store = new FsSnapshotStore(cfg.dir);
    this.readers = deps.frames.map((r) => new FrameWindowReader(r, deps.prefix));
    this.warn = throttledWarn(deps.log);
    this.writer = new SnapshotWriter(
      this.store,
      { maxQueue: cfg.maxQueue, maxWidth: cfg.maxWidth, quality: cfg.quality, maxInputPixels: MAX_INPUT_PIXELS },
      {
        outcome: (outcome, subject, err) => {
          deps.metrics.snapshots.inc({ outcome });
          if (outcome !== 'stored')
            this.warn(
              `E_SNAPSHOT_${outcome.toUpperCase()}`,
              { camera: subject.camera, event: subject.id, reason: outcome, err: err?.message },
              'snapshot not stored; the event stands without it',
            );
        },
        stored: (ms) => deps.metrics.snapshotSeconds.observe(ms / 1000),
      },
    );
  }

  async start(): Promise<void> {
    await this.publishPolicy();
    this.every(POLICY_REFRESH_MS, () => this.publishPolicy());
    this.every(this.cfg.sweepMs, () => this.sweep());
    void this.sweep();
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all([this.writer.drained(), this.sweeping]);
  }

  /** Track events of a frame carry their snapshot's path; the path follows from the id alone. */
  annotate(event: SiteEvent): void {
    if (subjectOf(event).length) event.snapshot = snapshotPath(event.id);
  }

  /** Pending records for the events about to be committed; the subjects to render after the commit. */
  prepare(events: readonly SiteEvent[]): Promise<SnapshotSubject[]> {
    return this.writer.prepare(events.flatMap(subjectOf));
  }

  /** The commit of `shard` went through: render its snapshots from that shard's frames Redis. */
  committed(shard: number, subjects: readonly SnapshotSubject[]): void {
    if (subjects.length) this.writer.enqueue(subjects, this.readers[this.deps.redisOfShard(shard)]);
  }

  /** Resolves once every queued snapshot is stored or failed. */
  drained(): Promise<void> {
    return this.writer.drained();
  }

  private async publishPolicy(): Promise<void> {
    const window = this.cfg.frameWindow;
    const policy = {
      cameras: this.deps.camerasWithRules(),
      windowMs: window.ms,
      cameraBytes: window.cameraBytes,
      totalBytes: window.totalBytes,
    };
    await Promise.all(
      this.readers.map((reader, i) =>
        reader
          .publish(policy, POLICY_TTL_REFRESHES * POLICY_REFRESH_MS)
          .catch((err: Error) =>
            this.warn('E_FRAME_WINDOW_POLICY', { redis: i, err: err.message }, 'frame window policy not published'),
          ),
      ),
    );
  }

  private sweep(): Promise<void> {
    this.sweeping = this.sweeping.then(async () => {
      try {
        const result = await sweepSnapshots(this.store, {
          maxAgeMs: this.cfg.retentionDays * 86_400_000,
          maxBytes: this.cfg.maxBytes,
        });
        this.deps.metrics.snapshotBytes.set(result.bytes);
        this.deps.metrics.snapshotFiles.set(result.files);
        if (result.deleted.age) this.deps.metrics.snapshotDeletions.inc({ reason: 'age' }, result.deleted.age);
        if (result.deleted.budget) this.deps.metrics.snapshotDeletions.inc({ reason: 'budget' }, result.deleted.budget);
      } catch (err) {
        this.warn('E_SNAPSHOT_SWEEP', { err: (err as Error).message }, 'snapshot retention sweep failed');
      }
    });
    return this.sweeping;
  }

  private every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.timers.push(timer);
  }
}

/** Events with a box, of a frame: a quiet camera's ended tracks (frame -1) have no frame to show. */
function subjectOf(event: SiteEvent): SnapshotSubject[] {
  return event.box && event.frame >= 0
    ? [{ id: event.id, camera: event.camera, ts: event.ts, frame: event.frame, box: event.box }]
    : [];
}
