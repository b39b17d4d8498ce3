import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { type EventsConfig } from '@vision/config';
import { throttledWarn } from '@vision/runtime';
import { decodeResultsEntry } from '@vision/results-stream';
import { CameraPipeline, type CameraSnapshot, type PipelineOptions } from './camera-pipeline';
import type { EventsKeys } from './events-keys';
import type { EventsMetrics } from '@vision/metrics';
import type { EventEvidence } from './event-evidence';
import { eventsScripts } from './events-scripts';
import type { ResultsSources } from './results-sources';
import { committedView } from './rule-types';
import type { RulesStore } from './rules-store';
import { newShardState, putBackChanges, resumePosition, takeChanges, type ShardState } from './shard-state';
import type { SiteEvent } from './site-event';

/** Entries per XREAD, and how long it blocks (also the wall-clock tick of reorder releases and idle expiry). */
const READ_COUNT = 1000;
/** How long a results read blocks: also the wall-clock tick of reorder releases and idle expiry. */
const BLOCK_MS = 50;
/** Frames one camera may hold in its reorder buffer whatever their capture times. */
const MAX_PENDING = 1024;
/** How often the processor asks whether anyone watches live tracks (none: it publishes none). */
const LIVE_CHECK_MS = 2000;
/** A commit waits at most this long for its snapshots' pending records: a slow disk never stalls events. */
const PREPARE_TIMEOUT_MS = 1000;

export interface ProcessorDeps {
  cmd: Redis;
  /** The results streams, on every Redis (XREAD blocks their connections). */
  results: ResultsSources;
  keys: EventsKeys;
  cfg: EventsConfig;
  store: RulesStore;
  metrics: EventsMetrics;
  log: Logger;
  /** A commit was refused because the lease is gone. */
  fenced(shard: number): void;
  /** Snapshots of track events; undefined: off (EVENTS_SNAPSHOT_DIR unset). */
  evidence?: EventEvidence;
}

/**
 * Reads the results shards this instance owns (one XREAD per Redis), feeds each camera's pipeline,
 * and commits per shard: read position, changed camera states, new events and counts in one
 * fenced Lua call. Reading resumes before the oldest frame still held in a reorder buffer, so a new
 * owner re-reads exactly what was not yet processed; what was, its reorder buffer drops.
 */
export class ShardProcessor {
  private readonly shards = new Map<number, ShardState>();
  private readonly opts: PipelineOptions;
  private readonly warn: ReturnType<typeof throttledWarn>;
  private wantLive = false;
  private liveCheckedAt = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private committing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ProcessorDeps) {
    this.opts = {
      site: deps.cfg.site,
      tracker: deps.cfg.tracker,
      reorderMs: deps.cfg.reorderMs,
      maxPending: MAX_PENDING,
    };
    this.warn = throttledWarn(deps.log);
  }

  acquired(shard: number, token: string, checkpoint: Record<string, string>): void {
    const now = Date.now();
    const cameras = new Map<string, CameraPipeline>();
    for (const [field, json] of Object.entries(checkpoint)) {
      if (!field.startsWith('cam:')) continue;
      const camera = field.slice(4);
      try {
        cameras.set(camera, new CameraPipeline(camera, this.opts, JSON.parse(json) as CameraSnapshot, now));
      } catch (err) {
        this.deps.log.warn(
          { shard, camera, err: (err as Error).message },
          'camera state unreadable; the camera starts afresh',
        );
      }
    }
    this.shards.set(shard, newShardState(token, checkpoint['pos'] ?? '0-0', cameras, now));
  }

  async releasing(shard: number): Promise<void> {
    await this.commit(shard);
  }

  lost(shard: number): void {
    const shardState = this.shards.get(shard);
    if (!shardState) return;
    this.shards.delete(shard);
    for (const [camera, pipe] of shardState.cameras) this.deps.metrics.forget(camera, Object.keys(pipe.counts()));
  }

  owns(shard: number): boolean {
    return this.shards.has(shard);
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!this.shards.size) {
        await sleep(BLOCK_MS);
        continue;
      }
      const from = new Map([...this.shards].map(([shard, shardState]) => [shard, shardState.readPos]));
      const { read, failed } = await this.deps.results.read(from, READ_COUNT, BLOCK_MS);
      for (const f of failed)
        this.warn('E_REDIS_READ', { shards: f.shards, err: f.err.message }, 'results stream unreadable; retrying');
      // Every Redis unreachable: pause. One of several: the others' blocking reads pace the loop.
      if (failed.reduce((n, f) => n + f.shards.length, 0) === from.size) await sleep(500);
      const now = Date.now();
      for (const { shard, entries } of read) {
        const shardState = this.shards.get(shard);
        if (!shardState) continue; // lost while reading
        for (const [id, fields] of entries) {
          shardState.readPos = id;
          this.take(shard, shardState, id, fields, now);
        }
      }
      await this.drainAll(now);
    }
  }

  private take(shard: number, shardState: ShardState, id: string, fields: string[], now: number): void {
    const metrics = this.deps.metrics;
    const decoded = decodeResultsEntry(fields);
    if (!decoded.ok) {
      metrics.frames.inc({ outcome: 'invalid' });
      this.warn('E_BAD_RESULT', { shard, id, reason: decoded.reason }, 'results entry refused');
      return;
    }
    const entry = decoded.entry;
    this.deps.store.noteSeen(entry);
    // Cameras no rule uses cost a decode and nothing else.
    if (!this.deps.store.rulesFor(entry.camera).length) return void metrics.frames.inc({ outcome: 'unused' });
    let pipe = shardState.cameras.get(entry.camera);
    if (!pipe) {
      let total = 0;
      for (const owned of this.shards.values()) total += owned.cameras.size;
      if (total >= this.deps.cfg.maxCameras) return void metrics.frames.inc({ outcome: 'overflow' });
      shardState.cameras.set(entry.camera, (pipe = new CameraPipeline(entry.camera, this.opts, undefined, now)));
    }
    metrics.frames.inc({ outcome: pipe.offer(id, entry, now) });
  }

  private async drainAll(now: number): Promise<void> {
    await this.checkLive(now);
    let cameras = 0;
    let tracks = 0;
    for (const [shard, shardState] of [...this.shards]) {
      for (const [camera, pipe] of [...shardState.cameras]) {
        const rules = this.deps.store.rulesFor(camera);
        if (!rules.length || now - pipe.lastArrival > this.deps.cfg.cameraIdleMs) {
          // No rules any more: state dropped, no events. Idle: its tracks end (zones see them leave).
          if (rules.length) this.queue(shardState, camera, pipe.expire(now, rules), pipe);
          shardState.cameras.delete(camera);
          shardState.deleted.add(camera);
          shardState.dirty.delete(camera);
          shardState.counts.set(camera, JSON.stringify(rules.length ? pipe.counts() : {}));
          this.deps.metrics.forget(camera, Object.keys(pipe.counts()));
          continue;
        }
        const r = pipe.drain(now, rules, this.wantLive);
        if (r.frames) {
          shardState.dirty.add(camera);
          this.deps.metrics.processed.inc(r.frames);
          this.deps.metrics.detections.inc(r.detections);
        }
        for (const c of r.crossings) shardState.crossings.push({ camera, ...c });
        this.queue(shardState, camera, r.events, pipe);
        for (const l of r.live)
          this.deps.cmd.publish(this.deps.keys.live, JSON.stringify({ type: 'tracks', ...l })).catch(() => undefined);
        cameras++;
        tracks += pipe.trackCount;
      }
      const due =
        now - shardState.lastCommit >= this.deps.cfg.checkpointMs &&
        (shardState.dirty.size > 0 || shardState.readPos !== shardState.committedPos);
      if (shardState.pending.length || shardState.deleted.size || due) await this.commit(shard);
    }
    this.deps.metrics.cameras.set(cameras);
    this.deps.metrics.tracks.set(tracks);
    this.deps.metrics.shards.set(this.shards.size);
  }

  private queue(shardState: ShardState, camera: string, events: SiteEvent[], pipe: CameraPipeline): void {
    if (!events.length) return;
    if (this.deps.evidence) for (const event of events) this.deps.evidence.annotate(event);
    shardState.pending.push(...events);
    if (events.some((event) => event.kind === 'count')) shardState.counts.set(camera, JSON.stringify(pipe.counts()));
  }

  /** One commit at a time: the lease loop's final commits race the read loop's otherwise. */
  private commit(shard: number): Promise<void> {
    const next = this.committing.then(() => this.commitNow(shard));
    this.committing = next.catch(() => undefined);
    return next;
  }

  private async commitNow(shard: number): Promise<void> {
    const shardState = this.shards.get(shard);
    if (!shardState) return;
    const pos = resumePosition(shardState);
    const readPos = shardState.readPos;
    // Taken out before the call: the read loop goes on filling the next step meanwhile.
    const taken = takeChanges(shardState);
    const states = [...taken.dirty].flatMap((c) => {
      const pipe = shardState.cameras.get(c);
      return pipe ? [c, JSON.stringify(pipe.snapshot())] : [];
    });
    const events = taken.pending;
    const args = [
      ...states,
      ...taken.deleted,
      ...events.flatMap((event) => [event.id, event.camera, event.kind, JSON.stringify(event)]),
      ...[...taken.counts].flat(),
    ];
    const sizes = {
      states: states.length / 2,
      deletes: taken.deleted.size,
      events: events.length,
      counts: taken.counts.size,
    };
    const k = this.deps.keys;
    const snapshots = events.length ? await this.prepareSnapshots(events) : [];
    let ok: unknown;
    try {
      ok = await eventsScripts.commit.run(
        this.deps.cmd,
        { lease: k.lease(shard), checkpoint: k.checkpoint(shard), events: k.events(shard), counts: k.counts },
        { token: shardState.token, pos, maxLen: this.deps.cfg.maxLen, ...sizes },
        { keys: [], args },
      );
    } catch (err) {
      // Put back in front of what came meanwhile; the next step commits it all.
      putBackChanges(shardState, taken);
      this.deps.metrics.commits.inc({ outcome: 'error' });
      this.warn(
        'E_COMMIT',
        { shard, err: (err as Error).message },
        'checkpoint not written; retrying with the next step',
      );
      return;
    }
    if (ok !== 1) {
      this.deps.metrics.commits.inc({ outcome: 'fenced' });
      this.lost(shard);
      this.deps.fenced(shard);
      return;
    }
    const now = Date.now();
    this.deps.metrics.commits.inc({ outcome: 'ok' });
    for (const event of events) this.deps.metrics.committed(committedView(event), now);
    for (const c of taken.crossings) this.deps.metrics.crossed(c.camera, c.rule, c.direction);
    shardState.lastCommit = now;
    shardState.committedPos = readPos;
    this.deps.evidence?.committed(shard, snapshots);
  }

  private async prepareSnapshots(events: readonly SiteEvent[]) {
    const evidence = this.deps.evidence;
    if (!evidence) return [];
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<[]>((resolve) => (timer = setTimeout(() => resolve([]), PREPARE_TIMEOUT_MS)));
    try {
      return await Promise.race([evidence.prepare(events), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async checkLive(now: number): Promise<void> {
    if (!this.deps.cfg.liveTracks || now - this.liveCheckedAt < LIVE_CHECK_MS) return;
    this.liveCheckedAt = now;
    try {
      const [, subscribers] = (await this.deps.cmd.pubsub('NUMSUB', this.deps.keys.live)) as [string, number];
      this.wantLive = Number(subscribers) > 0;
    } catch {
      this.wantLive = false;
    }
  }
}
