import { z } from 'zod';
import { anchorOf, sideOfLine, type Point } from './geometry';
import { COMMON_RULE_FIELDS, POINT, type Observation, type RuleStep, type RuleTypeDefinition } from './rule-type';

const schema = z.strictObject({
  ...COMMON_RULE_FIELDS,
  type: z.literal('line'),
  from: POINT,
  to: POINT,
  /** Which crossings make `line.cross` events (both are counted). */
  directions: z
    .array(z.enum(['in', 'out']))
    .min(1)
    .max(2)
    .default(['in', 'out']),
  /** Count each direction at most once per track (a track that comes back is not counted twice). */
  oncePerTrack: z.boolean().default(true),
});

export interface LineFields {
  from: Point;
  to: Point;
  directions: ('in' | 'out')[];
  oncePerTrack: boolean;
}
export interface LineCounts {
  in: number;
  out: number;
  byClass: Record<string, { in: number; out: number }>;
}
type Side = -1 | 0 | 1;
type Direction = 'in' | 'out';
/** One track's position relative to the line; checkpointed, so the field names stay as they are. */
export interface LineTrackState {
  /** The side the track is known to be on (-1 left of from→to, 1 right); 0 unknown. */
  side: Side;
  /** The other side it has been seen on `run` times in a row (0: none). */
  cand: Side;
  run: number;
  done: Direction[];
  /** Crossings made while the track was tentative: emitted once it is confirmed. */
  pending: Direction[];
}
type LineStep = RuleStep<LineFields, { from: Point; to: Point }, LineCounts, 'line.cross', LineTrackState>;

/**
 * A segment: crossings by direction. A crossing counts when a track, known to be on one side, is
 * seen `inertia` times in a row beyond the hysteresis band on the other: a box oscillating on the
 * line never gets there. The first side is taken from the first observation beyond the band, so an
 * object entering from the frame edge counts on its first crossing.
 */
export const LINE_RULE: RuleTypeDefinition<
  z.output<typeof schema>,
  LineFields,
  { from: Point; to: Point },
  LineCounts,
  'line.cross',
  LineTrackState
> = {
  type: 'line',
  schema,
  kinds: ['line.cross'],
  coordinates: (spec) => [
    [spec.from, 'from'],
    [spec.to, 'to'],
  ],
  check: (spec) =>
    Math.hypot(spec.to[0] - spec.from[0], spec.to[1] - spec.from[1]) < (spec.units === 'norm' ? 1e-4 : 1)
      ? { field: 'to', message: 'the line has zero length (from and to are the same point)' }
      : undefined,
  fields: (spec) => ({ from: spec.from, to: spec.to, directions: spec.directions, oncePerTrack: spec.oncePerTrack }),
  geometry: (rule, toPixels) => ({ from: toPixels(rule.from), to: toPixels(rule.to) }),
  emptyCounts: () => ({ in: 0, out: 0, byClass: {} }),
  evaluate(step) {
    const { rule, frame, tracks } = step;
    for (const gone of frame.removed) delete tracks[gone.track.id];
    for (const seen of frame.observed) {
      if (!step.applies(seen)) continue;
      const lineState = (tracks[seen.track.id] ??= { side: 0, cand: 0, run: 0, done: [], pending: [] });
      const cross = (direction: Direction) => {
        if (rule.oncePerTrack && (lineState.done.includes(direction) || lineState.pending.includes(direction))) return;
        if (seen.track.phase === 'tentative') lineState.pending.push(direction);
        else crossed(step, lineState, seen, direction);
      };
      const { d: distance, t: along } = sideOfLine(
        anchorOf(seen.box, rule.anchor),
        step.geometry.from,
        step.geometry.to,
      );
      if (along < 0 || along > 1) {
        // Beside the segment, not across it: forget the side, so walking round an end never counts.
        Object.assign(lineState, { side: 0, cand: 0, run: 0 });
      } else if (Math.abs(distance) > rule.hysteresis * (seen.box[3] - seen.box[1])) {
        const observedSide: Side = distance > 0 ? 1 : -1;
        if (lineState.side === 0) Object.assign(lineState, { side: observedSide, cand: 0, run: 0 });
        else if (observedSide === lineState.side) Object.assign(lineState, { cand: 0, run: 0 });
        else {
          lineState.run = lineState.cand === observedSide ? lineState.run + 1 : 1;
          lineState.cand = observedSide;
          if (lineState.run >= rule.inertia) {
            const direction = lineState.side < 0 ? 'in' : 'out';
            Object.assign(lineState, { side: observedSide, cand: 0, run: 0 });
            cross(direction);
          }
        }
      }
      if (seen.track.phase !== 'tentative' && lineState.pending.length) {
        for (const direction of lineState.pending.splice(0)) crossed(step, lineState, seen, direction);
      }
    }
    return step.counts;
  },
  draw: (rule) => ({
    points: [rule.from, rule.to],
    closed: false,
    colour: '#fd4',
    dash: [8, 4],
    label: 'in {in} out {out}',
  }),
};

/** Counts a crossing (both directions always) and drafts its event (silent for a direction not emitted). */
function crossed(step: LineStep, lineState: LineTrackState, seen: Observation, direction: Direction): void {
  if (!lineState.done.includes(direction)) lineState.done.push(direction);
  step.counts[direction]++;
  const byClass = (step.counts.byClass[seen.cls] ??= { in: 0, out: 0 });
  byClass[direction]++;
  step.emit({
    kind: 'line.cross',
    track: seen.track,
    cls: seen.cls,
    box: seen.box,
    direction,
    silent: !step.rule.directions.includes(direction),
  });
}
