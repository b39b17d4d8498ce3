import type { FrameWindowReader } from '@vision/frame-window';
import { snapshotKeys, type SnapshotFailure, type SnapshotRecord, type SnapshotSubject } from './snapshot-record';
import { renderSnapshot, type RenderOptions } from './snapshot-render';
import type { SnapshotStore } from './snapshot-store';

/** Snapshots rendered at once: each decodes a frame on libuv's pool, beside the service's other work. */
const CONCURRENCY = 2;
/** A record is a few hundred bytes; anything larger in the store is not ours. */
export const MAX_RECORD_BYTES = 64 * 1024;

export interface SnapshotWriterOptions extends RenderOptions {
  /** Snapshots waiting to be rendered at most; more fail as `queue_full`. */
  maxQueue: number;
}

export interface SnapshotHooks {
  /** Each snapshot's end: stored, or why not. */
  outcome(outcome: 'stored' | SnapshotFailure, subject: SnapshotSubject, err?: Error): void;
  /** Commit to readable, ms, for each stored snapshot. */
  stored(ms: number): void;
}

interface Job {
  subject: SnapshotSubject;
  frames: FrameWindowReader;
  committedAt: number;
}

/**
 * Makes each track event's snapshot: a `pending` record before the event is committed (so the API
 * knows the event as soon as anyone can), then, after the commit, the frame from the frame window,
 * rendered and stored, and the record marked `stored` or `failed`. Bounded: at most `maxQueue`
 * waiting and `CONCURRENCY` rendering. A failure never holds up events.
 */
export class SnapshotWriter {
  private readonly queue: Job[] = [];
  private running = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly store: SnapshotStore,
    private readonly opts: SnapshotWriterOptions,
    private readonly hooks: SnapshotHooks,
  ) {}

  /**
   * Records the events as pending, before their commit. An event that already has a record (a
   * commit retried, a replay after a failover) keeps it, and is rendered again only while pending.
   * Returns the subjects to render after the commit.
   */
  async prepare(subjects: readonly SnapshotSubject[], now = Date.now()): Promise<SnapshotSubject[]> {
    const fresh = await Promise.all(
      subjects.map(async (subject) => {
        const keys = snapshotKeys(subject.id);
        try {
          const known = await this.store.get(keys.record, MAX_RECORD_BYTES);
          if (known) return (JSON.parse(known.toString()) as SnapshotRecord).state === 'pending' ? subject : undefined;
          await this.putRecord({ ...subject, state: 'pending', committedAt: now });
          return subject;
        } catch (err) {
          this.hooks.outcome(failureOf(err, 'write'), subject, err as Error);
          return undefined;
        }
      }),
    );
    return fresh.filter((s): s is SnapshotSubject => s !== undefined);
  }

  /** Queues the committed events' snapshots; the frames come from `frames` (the Redis of their shard). */
  enqueue(subjects: readonly SnapshotSubject[], frames: FrameWindowReader, committedAt = Date.now()): void {
    for (const subject of subjects) {
      if (this.queue.length >= this.opts.maxQueue) {
        void this.fail(subject, committedAt, 'queue_full');
        continue;
      }
      this.queue.push({ subject, frames, committedAt });
    }
    this.pump();
  }

  /** Resolves when nothing is queued or rendering (for a clean stop and for tests). */
  drained(): Promise<void> {
    if (!this.running && !this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.running < CONCURRENCY && this.queue.length) {
      const job = this.queue.shift()!;
      this.running++;
      void this.make(job).finally(() => {
        this.running--;
        this.pump();
        if (!this.running && !this.queue.length) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async make({ subject, frames, committedAt }: Job): Promise<void> {
    const keys = snapshotKeys(subject.id);
    let image: Buffer | undefined;
    try {
      image = await frames.frame(subject.camera, subject.frame, subject.ts);
    } catch (err) {
      return this.fail(subject, committedAt, 'frame_gone', err as Error);
    }
    if (!image) return this.fail(subject, committedAt, 'frame_gone');
    let rendered;
    try {
      rendered = await renderSnapshot(image, subject.box, this.opts);
    } catch (err) {
      return this.fail(subject, committedAt, 'decode', err as Error);
    }
    try {
      await this.store.put(keys.full, rendered.full);
      await this.store.put(keys.crop, rendered.crop);
      const storedAt = Date.now();
      await this.putRecord({
        ...subject,
        state: 'stored',
        committedAt,
        storedAt,
        width: rendered.width,
        height: rendered.height,
      });
      this.hooks.stored(storedAt - committedAt);
      this.hooks.outcome('stored', subject);
    } catch (err) {
      await this.fail(subject, committedAt, failureOf(err, 'write'), err as Error);
    }
  }

  private async fail(subject: SnapshotSubject, committedAt: number, reason: SnapshotFailure, err?: Error) {
    this.hooks.outcome(reason, subject, err);
    // On a full disk this write fails too; the API then gives the pending record up after its patience.
    await this.putRecord({ ...subject, state: 'failed', committedAt, reason }).catch(() => undefined);
  }

  private putRecord(record: SnapshotRecord): Promise<void> {
    return this.store.put(snapshotKeys(record.id).record, Buffer.from(JSON.stringify(record)));
  }
}

function failureOf(err: unknown, otherwise: SnapshotFailure): SnapshotFailure {
  return (err as NodeJS.ErrnoException)?.code === 'ENOSPC' ? 'disk_full' : otherwise;
}
