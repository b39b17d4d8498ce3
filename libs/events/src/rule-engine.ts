import type { Point } from './geometry';
import type { Observation, RuleDraft, RuleFrame } from './rule-type';
import { ruleType, type EventKind, type Rule, type RuleCounts } from './rule-types';

export type { Observation, RuleFrame } from './rule-type';

interface RuleState {
  key: string;
  /** The rule type's per-track state, by track id. */
  tracks: Record<string, unknown>;
  counts: RuleCounts;
}

export type RuleEngineSnapshot = Record<string, RuleState>;

export interface DraftEvent extends RuleDraft<EventKind, RuleCounts> {
  rule: Rule;
}

/** Geometry in pixels per rule key and image size, at most this many (rules × image sizes) at once. */
const MAX_GEOMETRIES = 256;

/**
 * A camera's rules over its tracks, frame by frame. What each kind of rule does is its type's
 * (`rule-types.ts`); here is what every kind shares: state kept per rule while its definition is
 * unchanged, the class filter, geometry in pixels, and a `count` event whenever a rule's counts change.
 * Only confirmed tracks make events; what a track did while tentative is announced when it is confirmed.
 */
export class RuleEngine {
  private state: RuleEngineSnapshot;
  private readonly geometries = new Map<string, unknown>();

  constructor(snapshot?: RuleEngineSnapshot) {
    this.state = snapshot ?? {};
  }

  snapshot(): RuleEngineSnapshot {
    return this.state;
  }

  counts(): Record<string, RuleCounts> {
    return Object.fromEntries(Object.entries(this.state).map(([id, ruleState]) => [id, ruleState.counts]));
  }

  step(rules: readonly Rule[], frame: RuleFrame): DraftEvent[] {
    const drafts: DraftEvent[] = [];
    const next: RuleEngineSnapshot = {};
    for (const rule of rules) {
      const definition = ruleType(rule.type);
      const previous = this.state[rule.id];
      const ruleState: RuleState =
        previous?.key === rule.key ? previous : { key: rule.key, tracks: {}, counts: definition.emptyCounts() };
      next[rule.id] = ruleState;
      const before = JSON.stringify(ruleState.counts);
      ruleState.counts = definition.evaluate({
        rule,
        geometry: this.pixels(rule, frame),
        frame,
        tracks: ruleState.tracks,
        counts: ruleState.counts,
        applies: (seen: Observation) => !rule.classes || rule.classes.includes(seen.cls),
        emit: (draft: RuleDraft<EventKind, RuleCounts>) => drafts.push({ ...draft, rule }),
      });
      if (JSON.stringify(ruleState.counts) !== before)
        drafts.push({ rule, kind: 'count', counts: structuredClone(ruleState.counts) });
    }
    this.state = next;
    return drafts;
  }

  /** The rule's geometry in pixels of a `w`x`h` image. */
  private pixels(rule: Rule, frame: RuleFrame): unknown {
    const key = `${rule.key}:${frame.w}x${frame.h}`;
    let geometry = this.geometries.get(key);
    if (geometry === undefined) {
      const scaleX = rule.units === 'norm' ? frame.w : 1;
      const scaleY = rule.units === 'norm' ? frame.h : 1;
      geometry = ruleType(rule.type).geometry(rule, (p: Point): Point => [p[0] * scaleX, p[1] * scaleY]);
      if (this.geometries.size > MAX_GEOMETRIES) this.geometries.clear();
      this.geometries.set(key, geometry);
    }
    return geometry;
  }
}
