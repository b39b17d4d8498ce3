import { z } from 'zod';
import { ANCHORS, type RuleDefaults } from '@vision/config';
import type { Box, Point } from './geometry';
import type { Track } from './tracker';

/** Rule ids, webhook ids and model ids. */
export const RULE_ID = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (1 to 64)');
const coordinate = z.number().finite().min(0).max(1_000_000);
export const POINT = z.tuple([coordinate, coordinate]);
export const POLYGON = z.array(POINT).min(3, 'a polygon needs at least 3 points').max(64);

/** The fields every rule type takes; a type's schema spreads them beside its own `type` literal. */
export const COMMON_RULE_FIELDS = {
  id: RULE_ID,
  /** `norm`: fractions of the image's width and height (0..1); `px`: pixels of the original image. */
  units: z.enum(['norm', 'px']).default('norm'),
  classes: z.array(z.string().min(1).max(128)).min(1).max(256).optional(),
  anchor: z.enum(ANCHORS).optional(),
  inertia: z.number().int().min(1).max(1000).optional(),
  hysteresis: z.number().min(0).max(10).optional(),
};
export type CommonRuleSpec = z.output<z.ZodObject<typeof COMMON_RULE_FIELDS>>;

/** The resolved common fields of every rule, defaults filled in. */
export interface RuleBase {
  id: string;
  units: 'norm' | 'px';
  classes: string[] | undefined;
  anchor: RuleDefaults['anchor'];
  inertia: number;
  hysteresis: number;
  source: 'file' | 'api';
  /** Hash of the resolved definition: state is kept across reloads only while it is unchanged. */
  key: string;
}

/** A rule that fails a check its schema cannot express; `field` is relative to the rule. */
export interface RuleIssue {
  field: string;
  message: string;
}

export interface Observation {
  track: Track;
  box: Box;
  cls: string;
}

export interface RuleFrame {
  ts: number;
  w: number;
  h: number;
  observed: readonly Observation[];
  /** Tracks that ended in this frame, with their class name and last box. */
  removed: readonly Observation[];
}

/** What one rule's evaluation reports; the engine adds the rule and turns drafts into events. */
export interface RuleDraft<Kind extends string = string, Counts = unknown> {
  kind: Kind;
  track?: Track;
  cls?: string;
  box?: Box;
  direction?: 'in' | 'out';
  enteredTs?: number;
  dwellMs?: number;
  reason?: 'left' | 'lost';
  counts?: Counts;
  /** Counted, not an event (a crossing in a direction the rule does not emit). */
  silent?: boolean;
}

/** One rule over one frame: the rule's per-track state and counts so far, and where its drafts go. */
export interface RuleStep<Fields, Geometry, Counts, Kind extends string, TrackState> {
  rule: RuleBase & Fields;
  /** The rule's geometry in pixels of this frame's image. */
  geometry: Geometry;
  frame: RuleFrame;
  /** Per-track state by track id; checkpointed as JSON, so plain data only. */
  tracks: Record<string, TrackState>;
  counts: Counts;
  /** Whether the rule's class filter admits an observation. */
  applies(observation: Observation): boolean;
  emit(draft: RuleDraft<Kind, Counts>): void;
}

/** How the demo page draws a rule (libs/edge/demo/events-feed.js); points are in the rule's `units`. */
export interface DrawHints {
  points: Point[];
  closed: boolean;
  colour: string;
  dash: number[];
  /** Shown after the rule id; `{name}` is replaced by that field of the rule's counts. */
  label: string;
}

/**
 * One kind of rule, everything about it in one object: the site file's schema for it, the checks
 * its schema cannot express, its resolved fields, its geometry, how it evaluates tracks, the events
 * it emits, what it reports to metrics and how the demo draws it. Registered in `rule-types.ts`.
 */
export interface RuleTypeDefinition<
  Spec extends CommonRuleSpec & { type: string },
  Fields extends object,
  Geometry,
  Counts,
  Kind extends string,
  TrackState,
> {
  readonly type: Spec['type'];
  /** A strict object of COMMON_RULE_FIELDS, `type` and the type's own fields. */
  readonly schema: z.ZodType<Spec>;
  /** The event kinds it emits besides `count`, in the order docs/events.asyncapi.yaml lists them. */
  readonly kinds: readonly Kind[];
  /** Its coordinates with their field names, for the range check of `norm` units. */
  coordinates(spec: Spec): readonly (readonly [Point, string])[];
  /** Checks beyond the schema (geometry); the first issue found. */
  check(spec: Spec): RuleIssue | undefined;
  /** Its own resolved fields; the order of their keys is part of the rule's key. */
  fields(spec: Spec, defaults: RuleDefaults): Fields;
  geometry(rule: Fields, toPixels: (point: Point) => Point): Geometry;
  emptyCounts(): Counts;
  /** Evaluates one frame; returns the counts after it (a `count` event follows when they changed). */
  evaluate(step: RuleStep<Fields, Geometry, Counts, Kind, TrackState>): Counts;
  /** The value of `vision_events_zone_occupancy` for these counts; absent: the type has none. */
  occupancy?(counts: Counts): number;
  draw(rule: Fields): DrawHints;
}
