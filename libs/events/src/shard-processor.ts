import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { type EventsConfig } from '@vision/config';
import { throttledWarn } from '@vision/runtime';
import { decodeResultsEntry } from '@vision/results-stream';
import { CameraPipeline, type CameraSnapshot, type PipelineOptions } from './camera-pipeline';
import type { EventsKeys } from './events-keys';
import type { EventsMetrics } from '@vision/metrics';
import { eventsScripts } from './events-scripts';
import type { ResultsSources } from './results-sources';
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

  constructor(private readonly d: ProcessorDeps) {
    this.opts = { site: d.cfg.site, tracker: d.cfg.tracker, reorderMs: d.cfg.reorderMs, maxPending: MAX_PENDING };
    this.warn = throttledWarn(d.log);
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
        this.d.log.warn(
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
    const st = this.shards.get(shard);
    if (!st) return;
    this.shards.delete(shard);
    for (const [camera, pipe] of st.cameras) this.d.metrics.forget(camera, Object.keys(pipe.counts()));
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
      const from = new Map([...this.shards].map(([shard, st]) => [shard, st.readPos]));
      const { read, failed } = await this.d.results.read(from, READ_COUNT, BLOCK_MS);
      for (const f of failed)
        this.warn('E_REDIS_READ', { shards: f.shards, err: f.err.message }, 'results stream unreadable; retrying');
      // Every Redis unreachable: pause. One of several: the others' blocking reads pace the loop.
      if (failed.reduce((n, f) => n + f.shards.length, 0) === from.size) await sleep(500);
      const now = Date.now();
      for (const { shard, entries } of read) {
        const st = this.shards.get(shard);
        if (!st) continue; // lost while reading
        for (const [id, fields] of entries) {
          st.readPos = id;
          this.take(shard, st, id, fields, now);
        }
      }
      await this.drainAll(now);
    }
  }

  private take(shard: number, st: ShardState, id: string, fields: string[], now: number): void {
    const m = this.d.metrics;
    const decoded = decodeResultsEntry(fields);
    if (!decoded.ok) {
      m.frames.inc({ outcome: 'invalid' });
      this.warn('E_BAD_RESULT', { shard, id, reason: decoded.reason }, 'results entry refused');
      return;
    }
    const e = decoded.entry;
    this.d.store.noteSeen(e);
    // Cameras no rule uses cost a decode and nothing else.
    if (!this.d.store.rulesFor(e.camera).length) return void m.frames.inc({ outcome: 'unused' });
    let pipe = st.cameras.get(e.camera);
    if (!pipe) {
      let total = 0;
      for (const s of this.shards.values()) total += s.cameras.size;
      if (total >= this.d.cfg.maxCameras) return void m.frames.inc({ outcome: 'overflow' });
      st.cameras.set(e.camera, (pipe = new CameraPipeline(e.camera, this.opts, undefined, now)));
    }
    m.frames.inc({ outcome: pipe.offer(id, e, now) });
  }

  private async drainAll(now: number): Promise<void> {
    await this.checkLive(now);
    let cameras = 0;
    let tracks = 0;
    for (const [shard, st] of [...this.shards]) {
      for (const [camera, pipe] of [...st.cameras]) {
        const rules = this.d.store.rulesFor(camera);
        if (!rules.length || now - pipe.lastArrival > this.d.cfg.cameraIdleMs) {
          // No rules any more: state dropped, no events. Idle: its tracks end (zones see them leave).
          if (rules.length) this.queue(st, camera, pipe.expire(now, rules), pipe);
          st.cameras.delete(camera);
          st.deleted.add(camera);
          st.dirty.delete(camera);
          st.counts.set(camera, JSON.stringify(rules.length ? pipe.counts() : {}));
          this.d.metrics.forget(camera, Object.keys(pipe.counts()));
          continue;
        }
        const r = pipe.drain(now, rules, this.wantLive);
        if (r.frames) {
          st.dirty.add(camera);
          this.d.metrics.processed.inc(r.frames);
          this.d.metrics.detections.inc(r.detections);
        }
        for (const c of r.crossings) st.crossings.push({ camera, ...c });
        this.queue(st, camera, r.events, pipe);
        for (const l of r.live)
          this.d.cmd.publish(this.d.keys.live, JSON.stringify({ type: 'tracks', ...l })).catch(() => undefined);
        cameras++;
        tracks += pipe.trackCount;
      }
      const due =
        now - st.lastCommit >= this.d.cfg.checkpointMs && (st.dirty.size > 0 || st.readPos !== st.committedPos);
      if (st.pending.length || st.deleted.size || due) await this.commit(shard);
    }
    this.d.metrics.cameras.set(cameras);
    this.d.metrics.tracks.set(tracks);
    this.d.metrics.shards.set(this.shards.size);
  }

  private queue(st: ShardState, camera: string, events: SiteEvent[], pipe: CameraPipeline): void {
    if (!events.length) return;
    st.pending.push(...events);
    if (events.some((e) => e.kind === 'count')) st.counts.set(camera, JSON.stringify(pipe.counts()));
  }

  /** One commit at a time: the lease loop's final commits race the read loop's otherwise. */
  private commit(shard: number): Promise<void> {
    const next = this.committing.then(() => this.commitNow(shard));
    this.committing = next.catch(() => undefined);
    return next;
  }

  private async commitNow(shard: number): Promise<void> {
    const st = this.shards.get(shard);
    if (!st) return;
    const pos = resumePosition(st);
    const readPos = st.readPos;
    // Taken out before the call: the read loop goes on filling the next step meanwhile.
    const taken = takeChanges(st);
    const states = [...taken.dirty].flatMap((c) => {
      const pipe = st.cameras.get(c);
      return pipe ? [c, JSON.stringify(pipe.snapshot())] : [];
    });
    const events = taken.pending;
    const args = [
      ...states,
      ...taken.deleted,
      ...events.flatMap((e) => [e.id, e.camera, e.kind, JSON.stringify(e)]),
      ...[...taken.counts].flat(),
    ];
    const sizes = {
      states: states.length / 2,
      deletes: taken.deleted.size,
      events: events.length,
      counts: taken.counts.size,
    };
    const k = this.d.keys;
    let ok: unknown;
    try {
      ok = await eventsScripts.commit.run(
        this.d.cmd,
        { lease: k.lease(shard), checkpoint: k.checkpoint(shard), events: k.events(shard), counts: k.counts },
        { token: st.token, pos, maxLen: this.d.cfg.maxLen, ...sizes },
        { keys: [], args },
      );
    } catch (err) {
      // Put back in front of what came meanwhile; the next step commits it all.
      putBackChanges(st, taken);
      this.d.metrics.commits.inc({ outcome: 'error' });
      this.warn(
        'E_COMMIT',
        { shard, err: (err as Error).message },
        'checkpoint not written; retrying with the next step',
      );
      return;
    }
    if (ok !== 1) {
      this.d.metrics.commits.inc({ outcome: 'fenced' });
      this.lost(shard);
      this.d.fenced(shard);
      return;
    }
    const now = Date.now();
    this.d.metrics.commits.inc({ outcome: 'ok' });
    for (const e of events) this.d.metrics.committed(e, now);
    for (const c of taken.crossings) this.d.metrics.crossed(c.camera, c.rule, c.direction);
    st.lastCommit = now;
    st.committedPos = readPos;
  }

  private async checkLive(now: number): Promise<void> {
    if (!this.d.cfg.liveTracks || now - this.liveCheckedAt < LIVE_CHECK_MS) return;
    this.liveCheckedAt = now;
    try {
      const [, subscribers] = (await this.d.cmd.pubsub('NUMSUB', this.d.keys.live)) as [string, number];
      this.wantLive = Number(subscribers) > 0;
    } catch {
      this.wantLive = false;
    }
  }
}
