import type { TrackerConfig } from '@vision/config';
import type { ResultsEntry } from '@vision/results-stream';
import { kalmanBox } from './kalman';
import { ReorderBuffer, type ReorderSnapshot } from './reorder-buffer';
import { RuleEngine, type DraftEvent, type RuleEngineSnapshot } from './rule-engine';
import type { Observation } from './rule-type';
import type { Rule, RuleCounts } from './rule-types';
import { eventId, roundBox, type SiteEvent } from './site-event';
import { ByteTracker, type TrackerSnapshot } from './tracker';

/** One camera's checkpoint: everything needed to go on exactly where the last owner stopped. */
export interface CameraSnapshot {
  v: 1;
  reorder: ReorderSnapshot;
  tracker: TrackerSnapshot;
  rules: RuleEngineSnapshot;
  /** Model, image size and class names of the last frame (for idle expiry and the API). */
  last: { model: string; w: number; h: number; names: Record<number, string> } | null;
}

/** The confirmed tracks seen in one frame, for the live feed. */
export interface LiveTracks {
  camera: string;
  ts: number;
  w: number;
  h: number;
  tracks: [id: number, cls: string, x1: number, y1: number, x2: number, y2: number][];
}

export interface PipelineOptions {
  site: string;
  tracker: TrackerConfig;
  reorderMs: number;
  /** Frames held per camera at most, whatever their capture times. */
  maxPending: number;
}

export interface DrainResult {
  events: SiteEvent[];
  frames: number;
  detections: number;
  live: LiveTracks[];
  overflow: number;
  /** Every crossing, emitted as an event or not (for the crossing counters). */
  crossings: { rule: string; direction: 'in' | 'out' }[];
}

/** One camera: reorder buffer and dedupe, then tracker, then rules, in capture order. */
export class CameraPipeline {
  private readonly buffer: ReorderBuffer<ResultsEntry>;
  private readonly tracker: ByteTracker;
  private readonly engine: RuleEngine;
  private last: CameraSnapshot['last'];
  /** Wall-clock ms of the last entry read (not checkpointed: a new owner starts the idle clock anew). */
  lastArrival: number;

  constructor(
    readonly camera: string,
    private readonly options: PipelineOptions,
    snapshot: CameraSnapshot | undefined,
    now: number,
  ) {
    this.buffer = new ReorderBuffer(options.reorderMs, options.maxPending, snapshot?.reorder);
    this.tracker = new ByteTracker(options.tracker, snapshot?.tracker);
    this.engine = new RuleEngine(snapshot?.rules);
    this.last = snapshot?.last ?? null;
    this.lastArrival = now;
  }

  offer(id: string, entry: ResultsEntry, now: number): 'buffered' | 'duplicate' | 'late' {
    this.lastArrival = now;
    return this.buffer.offer({ id, ts: entry.ts, frame: entry.frame, arrivedAt: now, item: entry });
  }

  get trackCount(): number {
    return this.tracker.size;
  }

  get pending(): number {
    return this.buffer.size;
  }

  oldestId(): string | undefined {
    return this.buffer.oldestId();
  }

  counts(): Record<string, RuleCounts> {
    return this.engine.counts();
  }

  /** Processes every frame whose turn has come. `live` is filled only when someone watches. */
  drain(now: number, rules: readonly Rule[], wantLive: boolean, flush = false): DrainResult {
    const result: DrainResult = { events: [], frames: 0, detections: 0, live: [], overflow: 0, crossings: [] };
    for (const { item: entry } of this.buffer.ready(now, flush)) {
      result.frames++;
      result.detections += entry.dets.length;
      if (this.last?.model !== entry.model) this.last = { model: entry.model, w: entry.w, h: entry.h, names: {} };
      const last = this.last;
      Object.assign(last, { w: entry.w, h: entry.h });
      for (const [id, className] of Object.entries(entry.names)) last.names[Number(id)] ??= className;
      const name = (cls: number) => last.names[cls] ?? String(cls);
      const step = this.tracker.update(
        entry.ts,
        entry.dets.map(([x1, y1, x2, y2, score, cls]) => ({ box: [x1, y1, x2, y2] as const, score, cls })),
        entry.conf,
      );
      result.overflow += step.overflow;
      const observed: Observation[] = step.observed.map(({ track, box }) => ({ track, box, cls: name(track.cls) }));
      const removed: Observation[] = step.removed.map((track) => ({
        track,
        box: kalmanBox(track.kf),
        cls: name(track.cls),
      }));
      const drafts = this.engine.step(rules, { ts: entry.ts, w: entry.w, h: entry.h, observed, removed });
      for (const draft of drafts) {
        if (draft.direction) result.crossings.push({ rule: draft.rule.id, direction: draft.direction });
        if (!draft.silent) result.events.push(this.toEvent(draft, entry.ts, entry.frame));
      }
      if (wantLive) {
        const tracks = observed
          .filter((seen) => seen.track.phase === 'confirmed')
          .map((seen) => [seen.track.id, seen.cls, ...roundBox(seen.box)] as LiveTracks['tracks'][number]);
        result.live.push({ camera: this.camera, ts: entry.ts, w: entry.w, h: entry.h, tracks });
      }
    }
    return result;
  }

  /** The camera went quiet: what it holds is processed, then its tracks end (zones see them leave). */
  expire(now: number, rules: readonly Rule[]): SiteEvent[] {
    const events = this.drain(now, rules, false, true).events;
    const ended = this.tracker.clear();
    const ts = this.buffer.lastReleasedTs;
    if (!ended.length || !this.last || !Number.isFinite(ts)) return events;
    const names = this.last.names;
    const removed = ended.map((track) => ({
      track,
      box: kalmanBox(track.kf),
      cls: names[track.cls] ?? String(track.cls),
    }));
    for (const draft of this.engine.step(rules, { ts, w: this.last.w, h: this.last.h, observed: [], removed }))
      events.push(this.toEvent(draft, ts, -1));
    return events;
  }

  snapshot(): CameraSnapshot {
    return {
      v: 1,
      reorder: this.buffer.snapshot(),
      tracker: this.tracker.snapshot(),
      rules: this.engine.snapshot(),
      last: this.last,
    };
  }

  private toEvent(draft: DraftEvent, ts: number, frame: number): SiteEvent {
    const event: SiteEvent = {
      id: eventId(this.camera, draft.rule.id, draft.track?.id, draft.kind, ts, draft.direction),
      site: this.options.site,
      camera: this.camera,
      rule: draft.rule.id,
      ruleType: draft.rule.type,
      kind: draft.kind,
      ts,
      frame,
    };
    if (draft.track) event.track = draft.track.id;
    if (draft.cls !== undefined) event.class = draft.cls;
    if (draft.box) event.box = roundBox(draft.box);
    if (draft.direction) event.direction = draft.direction;
    if (draft.enteredTs !== undefined) event.enteredTs = draft.enteredTs;
    if (draft.dwellMs !== undefined) event.dwellMs = draft.dwellMs;
    if (draft.reason) event.reason = draft.reason;
    if (draft.counts) event.counts = draft.counts;
    return event;
  }
}
