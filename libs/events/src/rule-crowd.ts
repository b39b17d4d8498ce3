import { z } from 'zod';
import type { Point } from './geometry';
import { COMMON_RULE_FIELDS, POLYGON, type RuleTypeDefinition } from './rule-type';
import { followPresence, occupancy, polygonIssue, type OccupancyCounts, type PresenceState } from './zone-presence';

const schema = z.strictObject({
  ...COMMON_RULE_FIELDS,
  type: z.literal('crowd'),
  polygon: POLYGON,
  exitInertia: z.number().int().min(1).max(1000).optional(),
  /** Confirmed tracks inside at which the area counts as crowded. */
  threshold: z.number().int().min(1).max(10_000),
});

export interface CrowdFields {
  polygon: Point[];
  exitInertia: number;
  threshold: number;
}

/**
 * Crowd density: a polygon whose `crowd.start` fires when the confirmed tracks inside (of the
 * rule's classes) reach `threshold`, and `crowd.end` when they drop below it again. Presence is a
 * zone's (inertia, hysteresis, exit inertia), without the per-track events.
 */
export const CROWD_RULE: RuleTypeDefinition<
  z.output<typeof schema>,
  CrowdFields,
  Point[],
  OccupancyCounts,
  'crowd.start' | 'crowd.end',
  PresenceState
> = {
  type: 'crowd',
  schema,
  kinds: ['crowd.start', 'crowd.end'],
  coordinates: (spec) => spec.polygon.map((point, i) => [point, `polygon[${i}]`] as const),
  check: (spec) => polygonIssue(spec.polygon, spec.units),
  fields: (spec, defaults) => ({
    polygon: spec.polygon,
    exitInertia: spec.exitInertia ?? defaults.exitInertia,
    threshold: spec.threshold,
  }),
  geometry: (rule, toPixels) => rule.polygon.map(toPixels),
  emptyCounts: () => ({ total: 0, byClass: {} }),
  evaluate(step) {
    followPresence(step, {});
    const counts = occupancy(step.tracks);
    const { threshold } = step.rule;
    const was = step.counts.total >= threshold;
    const is = counts.total >= threshold;
    if (is !== was) step.emit({ kind: is ? 'crowd.start' : 'crowd.end', counts: structuredClone(counts) });
    return counts;
  },
  occupancy: (counts) => counts.total,
  draw: (rule) => ({
    points: rule.polygon,
    closed: true,
    colour: '#f6a',
    dash: [4, 4],
    label: `{total}/${rule.threshold}`,
  }),
};
