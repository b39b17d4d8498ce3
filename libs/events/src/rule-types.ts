import type { CommittedEvent } from '@vision/metrics';
import { CROWD_RULE } from './rule-crowd';
import { LINE_RULE } from './rule-line';
import type { RuleBase, RuleTypeDefinition } from './rule-type';
import type { SiteEvent } from './site-event';
import { ZONE_RULE } from './rule-zone';

/**
 * Every kind of rule, registered once: a rule's `type` names one of these, and an unknown `type`
 * is refused (`E_BAD_RULE`, field `type`). A new kind is one file (see rule-crowd.ts) and one line here.
 */
export const RULE_TYPES = [ZONE_RULE, LINE_RULE, CROWD_RULE] as const;

type Registered = (typeof RULE_TYPES)[number];
export type RuleTypeName = Registered['type'];

// Any registered definition, for the code that handles every kind alike (validation, the engine).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRuleType = RuleTypeDefinition<any, any, any, any, any, any>;

/** A resolved rule of one registered kind. */
type RuleOf<Definition extends Registered> = Definition extends Registered
  ? RuleBase & { type: Definition['type'] } & ReturnType<Definition['fields']>
  : never;
export type Rule = RuleOf<Registered>;

/** Counts of one registered kind (`count` events, the counts API). */
export type RuleCounts = ReturnType<Registered['emptyCounts']>;

/** Every event kind: each type's own, then `count` (every type's counts when they change). */
export const EVENT_KINDS = [...RULE_TYPES.flatMap((definition) => definition.kinds), 'count'] as const;
export type EventKind = Registered['kinds'][number] | 'count';

const BY_TYPE = new Map<string, AnyRuleType>(RULE_TYPES.map((definition) => [definition.type, definition]));

/** The definition of a registered kind (typed: an unregistered name does not compile). */
export function ruleType(type: RuleTypeName): AnyRuleType {
  return BY_TYPE.get(type)!;
}

/** The definition a raw `type` field names, or undefined when no kind is registered under it. */
export function findRuleType(type: unknown): AnyRuleType | undefined {
  return typeof type === 'string' ? BY_TYPE.get(type) : undefined;
}

export const RULE_TYPE_NAMES = RULE_TYPES.map((definition) => definition.type);

/**
 * What the events metrics read of a committed event: its own fields, plus its rule's occupancy
 * where the rule's type has one (libs/metrics cannot ask this registry itself).
 */
export function committedView(event: SiteEvent): CommittedEvent {
  const occupancy = event.counts ? ruleType(event.ruleType).occupancy?.(event.counts) : undefined;
  return occupancy === undefined ? event : { ...event, occupancy };
}
