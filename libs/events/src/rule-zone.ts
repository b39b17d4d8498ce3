import { z } from 'zod';
import type { Point } from './geometry';
import { COMMON_RULE_FIELDS, POLYGON, type Observation, type RuleTypeDefinition } from './rule-type';
import { followPresence, occupancy, polygonIssue, type OccupancyCounts, type PresenceState } from './zone-presence';

const schema = z.strictObject({
  ...COMMON_RULE_FIELDS,
  type: z.literal('zone'),
  polygon: POLYGON,
  exitInertia: z.number().int().min(1).max(1000).optional(),
  /** `zone.dwell` once a track has been inside this long. */
  dwellS: z
    .number()
    .positive()
    .max(7 * 86400)
    .optional(),
});

export interface ZoneFields {
  polygon: Point[];
  exitInertia: number;
  dwellS: number | undefined;
}
export type ZoneCounts = OccupancyCounts;
type ZoneKind = 'zone.enter' | 'zone.exit' | 'zone.dwell';

/** A polygon: who enters, leaves and stays (`zone.dwell`), and how many are inside. */
export const ZONE_RULE: RuleTypeDefinition<
  z.output<typeof schema>,
  ZoneFields,
  Point[],
  ZoneCounts,
  ZoneKind,
  PresenceState
> = {
  type: 'zone',
  schema,
  kinds: ['zone.enter', 'zone.exit', 'zone.dwell'],
  coordinates: (spec) => spec.polygon.map((point, i) => [point, `polygon[${i}]`] as const),
  check: (spec) => polygonIssue(spec.polygon, spec.units),
  fields: (spec, defaults) => ({
    polygon: spec.polygon,
    exitInertia: spec.exitInertia ?? defaults.exitInertia,
    dwellS: spec.dwellS,
  }),
  geometry: (rule, toPixels) => rule.polygon.map(toPixels),
  emptyCounts: () => ({ total: 0, byClass: {} }),
  evaluate(step) {
    const { rule, frame, emit } = step;
    const stay = (seen: Observation, presence: PresenceState) => ({
      track: seen.track,
      cls: seen.cls,
      box: seen.box,
      enteredTs: presence.enteredTs,
      dwellMs: frame.ts - presence.enteredTs,
    });
    followPresence(step, {
      left: (seen, presence, reason) => emit({ kind: 'zone.exit', ...stay(seen, presence), reason }),
      entered: (seen) => emit({ kind: 'zone.enter', track: seen.track, cls: seen.cls, box: seen.box }),
      inside(seen, presence) {
        if (rule.dwellS === undefined || presence.dwelt || frame.ts - presence.enteredTs < rule.dwellS * 1000) return;
        presence.dwelt = true;
        emit({ kind: 'zone.dwell', ...stay(seen, presence) });
      },
    });
    return occupancy(step.tracks);
  },
  occupancy: (counts) => counts.total,
  draw: (rule) => ({ points: rule.polygon, closed: true, colour: '#4cf', dash: [], label: '{total}' }),
};
