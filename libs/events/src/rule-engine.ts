import { anchorOf, distanceToPolygonEdge, insidePolygon, sideOfLine, type Box, type Point } from './geometry';
import type { LineCounts, ZoneCounts } from './site-event';
import type { EventKind, LineRule, Rule, ZoneRule } from './site-rules';
import type { Track } from './tracker';

interface ZoneTrackState {
  in: boolean;
  /** Observations in a row on the other side of the current state. */
  run: number;
  enteredTs: number;
  /** zone.enter was emitted (the track was confirmed by then); exits and dwells follow only then. */
  announced: boolean;
  dwelt: boolean;
  cls: string;
}

type Side = -1 | 0 | 1;
interface LineTrackState {
  /** The side the track is known to be on (-1 left of from→to, 1 right); 0 unknown. */
  side: Side;
  cand: Side;
  run: number;
  done: ('in' | 'out')[];
  /** Crossings made while the track was tentative: emitted once it is confirmed. */
  pending: ('in' | 'out')[];
}

interface RuleState {
  key: string;
  tracks: Record<string, ZoneTrackState | LineTrackState>;
  counts: ZoneCounts | LineCounts;
}

export type RuleEngineSnapshot = Record<string, RuleState>;

export interface Observation {
  track: Track;
  box: Box;
  cls: string;
}

export interface DraftEvent {
  rule: Rule;
  kind: EventKind;
  track?: Track;
  cls?: string;
  box?: Box;
  direction?: 'in' | 'out';
  enteredTs?: number;
  dwellMs?: number;
  reason?: 'left' | 'lost';
  counts?: ZoneCounts | LineCounts;
  /** A crossing in a direction the rule does not emit: counted, not an event. */
  silent?: boolean;
}

export interface RuleFrame {
  ts: number;
  w: number;
  h: number;
  observed: readonly Observation[];
  /** Tracks that ended in this frame, with their class name and last box. */
  removed: readonly Observation[];
}

/**
 * Zones and lines over tracks. Entering needs `inertia` observations in a row inside; leaving needs
 * `exitInertia` in a row outside by more than the hysteresis band (a fraction of the box height, so
 * it scales with how much a box's anchor jitters). A line counts a crossing when a track, known to be
 * on one side, is seen `inertia` times in a row beyond the band on the other: a box oscillating on
 * the line never gets there. The first side is taken from the first observation beyond the band, so
 * an object entering from the frame edge counts on its first crossing. Only confirmed tracks make
 * events; what a track did while tentative is announced when it is confirmed.
 */
export class RuleEngine {
  private state: RuleEngineSnapshot;
  private readonly geometry = new Map<string, { poly?: Point[]; from?: Point; to?: Point }>();

  constructor(snapshot?: RuleEngineSnapshot) {
    this.state = snapshot ?? {};
  }

  snapshot(): RuleEngineSnapshot {
    return this.state;
  }

  counts(): Record<string, ZoneCounts | LineCounts> {
    return Object.fromEntries(Object.entries(this.state).map(([id, s]) => [id, s.counts]));
  }

  step(rules: readonly Rule[], f: RuleFrame): DraftEvent[] {
    const out: DraftEvent[] = [];
    const next: RuleEngineSnapshot = {};
    for (const rule of rules) {
      const prev = this.state[rule.id];
      const st: RuleState =
        prev?.key === rule.key
          ? prev
          : {
              key: rule.key,
              tracks: {},
              counts: rule.type === 'zone' ? { total: 0, byClass: {} } : { in: 0, out: 0, byClass: {} },
            };
      next[rule.id] = st;
      const before = JSON.stringify(st.counts);
      const applies = (o: Observation) => !rule.classes || rule.classes.includes(o.cls);
      if (rule.type === 'zone') this.zone(rule, st, f, applies, out);
      else this.line(rule, st, f, applies, out);
      if (rule.type === 'zone') st.counts = zoneCounts(st);
      if (JSON.stringify(st.counts) !== before) out.push({ rule, kind: 'count', counts: structuredClone(st.counts) });
    }
    this.state = next;
    return out;
  }

  private zone(
    rule: ZoneRule,
    st: RuleState,
    f: RuleFrame,
    applies: (o: Observation) => boolean,
    out: DraftEvent[],
  ): void {
    const poly = this.pixels(rule, f).poly!;
    for (const o of f.removed) {
      const zs = st.tracks[o.track.id] as ZoneTrackState | undefined;
      if (zs?.in && zs.announced)
        out.push({
          rule,
          kind: 'zone.exit',
          track: o.track,
          cls: o.cls,
          box: o.box,
          enteredTs: zs.enteredTs,
          dwellMs: f.ts - zs.enteredTs,
          reason: 'lost',
        });
      delete st.tracks[o.track.id];
    }
    for (const o of f.observed) {
      if (!applies(o)) continue;
      const p = anchorOf(o.box, rule.anchor);
      const inside = insidePolygon(p, poly);
      const zs = (st.tracks[o.track.id] as ZoneTrackState | undefined) ?? {
        in: false,
        run: 0,
        enteredTs: 0,
        announced: false,
        dwelt: false,
        cls: o.cls,
      };
      if (!zs.in) {
        zs.run = inside ? zs.run + 1 : 0;
        if (zs.run >= rule.inertia) Object.assign(zs, { in: true, run: 0, enteredTs: f.ts, dwelt: false });
      } else {
        const clear = !inside && distanceToPolygonEdge(p, poly) > rule.hysteresis * (o.box[3] - o.box[1]);
        zs.run = clear ? zs.run + 1 : 0;
        if (zs.run >= rule.exitInertia) {
          if (zs.announced)
            out.push({
              rule,
              kind: 'zone.exit',
              track: o.track,
              cls: o.cls,
              box: o.box,
              enteredTs: zs.enteredTs,
              dwellMs: f.ts - zs.enteredTs,
              reason: 'left',
            });
          Object.assign(zs, { in: false, run: 0, announced: false, dwelt: false });
        }
      }
      if (zs.in && !zs.announced && o.track.phase !== 'tentative') {
        zs.announced = true;
        out.push({ rule, kind: 'zone.enter', track: o.track, cls: o.cls, box: o.box });
      }
      if (
        zs.in &&
        zs.announced &&
        rule.dwellS !== undefined &&
        !zs.dwelt &&
        f.ts - zs.enteredTs >= rule.dwellS * 1000
      ) {
        zs.dwelt = true;
        out.push({
          rule,
          kind: 'zone.dwell',
          track: o.track,
          cls: o.cls,
          box: o.box,
          enteredTs: zs.enteredTs,
          dwellMs: f.ts - zs.enteredTs,
        });
      }
      if (zs.in || zs.run) st.tracks[o.track.id] = zs;
      else delete st.tracks[o.track.id];
    }
  }

  private line(
    rule: LineRule,
    st: RuleState,
    f: RuleFrame,
    applies: (o: Observation) => boolean,
    out: DraftEvent[],
  ): void {
    const { from, to } = this.pixels(rule, f);
    const counts = st.counts as LineCounts;
    for (const o of f.removed) delete st.tracks[o.track.id];
    for (const o of f.observed) {
      if (!applies(o)) continue;
      const ls = (st.tracks[o.track.id] as LineTrackState | undefined) ?? {
        side: 0,
        cand: 0,
        run: 0,
        done: [],
        pending: [],
      };
      st.tracks[o.track.id] = ls;
      const cross = (dir: 'in' | 'out') => {
        if (rule.oncePerTrack && (ls.done.includes(dir) || ls.pending.includes(dir))) return;
        if (o.track.phase === 'tentative') ls.pending.push(dir);
        else this.crossed(rule, counts, ls, o, dir, out);
      };
      const { d, t } = sideOfLine(anchorOf(o.box, rule.anchor), from!, to!);
      if (t < 0 || t > 1) {
        // Beside the segment, not across it: forget the side, so walking round an end never counts.
        Object.assign(ls, { side: 0, cand: 0, run: 0 });
      } else if (Math.abs(d) > rule.hysteresis * (o.box[3] - o.box[1])) {
        const obs: Side = d > 0 ? 1 : -1;
        if (ls.side === 0) Object.assign(ls, { side: obs, cand: 0, run: 0 });
        else if (obs === ls.side) Object.assign(ls, { cand: 0, run: 0 });
        else {
          ls.run = ls.cand === obs ? ls.run + 1 : 1;
          ls.cand = obs;
          if (ls.run >= rule.inertia) {
            const dir = ls.side < 0 ? 'in' : 'out';
            Object.assign(ls, { side: obs, cand: 0, run: 0 });
            cross(dir);
          }
        }
      }
      if (o.track.phase !== 'tentative' && ls.pending.length) {
        for (const dir of ls.pending.splice(0)) this.crossed(rule, counts, ls, o, dir, out);
      }
    }
  }

  private crossed(
    rule: LineRule,
    counts: LineCounts,
    ls: LineTrackState,
    o: Observation,
    dir: 'in' | 'out',
    out: DraftEvent[],
  ): void {
    if (!ls.done.includes(dir)) ls.done.push(dir);
    counts[dir]++;
    const byClass = (counts.byClass[o.cls] ??= { in: 0, out: 0 });
    byClass[dir]++;
    out.push({
      rule,
      kind: 'line.cross',
      track: o.track,
      cls: o.cls,
      box: o.box,
      direction: dir,
      silent: !rule.directions.includes(dir),
    });
  }

  /** The rule's geometry in pixels of a `w`x`h` image. */
  private pixels(rule: Rule, f: RuleFrame): { poly?: Point[]; from?: Point; to?: Point } {
    const key = `${rule.key}:${f.w}x${f.h}`;
    let g = this.geometry.get(key);
    if (!g) {
      const sx = rule.units === 'norm' ? f.w : 1;
      const sy = rule.units === 'norm' ? f.h : 1;
      const px = (p: Point): Point => [p[0] * sx, p[1] * sy];
      g = rule.type === 'zone' ? { poly: rule.polygon.map(px) } : { from: px(rule.from), to: px(rule.to) };
      if (this.geometry.size > 256) this.geometry.clear();
      this.geometry.set(key, g);
    }
    return g;
  }
}

function zoneCounts(st: RuleState): ZoneCounts {
  const byClass: Record<string, number> = {};
  let total = 0;
  for (const zs of Object.values(st.tracks) as ZoneTrackState[]) {
    if (!zs.in || !zs.announced) continue;
    total++;
    byClass[zs.cls] = (byClass[zs.cls] ?? 0) + 1;
  }
  return { total, byClass };
}
