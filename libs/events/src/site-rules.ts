import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RuleDefaults } from '@vision/config';
import { RULE_ID } from './rule-type';
import { EVENT_KINDS, findRuleType, RULE_TYPE_NAMES, ruleType, type Rule } from './rule-types';

export { EVENT_KINDS, type EventKind, type Rule } from './rule-types';

/** Stable codes of refused rules; `field` names the offending field (`cameras.gate.rules[0].polygon`). */
export type RuleErrorCode = 'E_BAD_RULE' | 'E_UNKNOWN_CAMERA' | 'E_UNKNOWN_CLASS';

export class RuleError extends Error {
  constructor(
    readonly code: RuleErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'RuleError';
  }

  toJSON() {
    return { code: this.code, field: this.field, message: this.message };
  }
}

const webhookSpec = z.strictObject({
  id: RULE_ID,
  url: z.string().min(1).max(2048),
  /** Camera ids (exact, or a prefix ending in `*`); absent: every camera. */
  cameras: z.array(z.string().min(1).max(255)).max(1024).optional(),
  kinds: z.array(z.enum(EVENT_KINDS)).min(1).optional(),
  rules: z.array(RULE_ID).max(1024).optional(),
});
export type WebhookSpec = z.infer<typeof webhookSpec>;

export const siteFileSchema = z.strictObject({
  /** Class names per model id, for validating class filters before the model's results are seen. */
  models: z.record(RULE_ID, z.array(z.string().min(1).max(128)).max(4096)).default({}),
  cameras: z
    .record(
      z.string().min(1).max(255),
      z.strictObject({ model: RULE_ID.optional(), rules: z.array(z.unknown()).default([]) }),
    )
    .default({}),
  webhooks: z.array(webhookSpec).max(64).default([]),
});

/** What a rule is checked against: whether the camera is known, and the class names of its model. */
export interface RuleContext {
  defaults: RuleDefaults;
  cameraKnown(camera: string): boolean;
  /** Undefined when nothing is known about the camera's model. */
  classesOf(camera: string): ReadonlySet<string> | undefined;
}

export function fieldPath(path: readonly PropertyKey[], base = ''): string {
  let out = base;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

/** Validates one rule for `camera`; throws RuleError naming the field under `field`. */
export function validateRule(
  raw: unknown,
  camera: string,
  ctx: RuleContext,
  field: string,
  source: Rule['source'],
): Rule {
  const at = (name: string) => (field ? `${field}.${name}` : name);
  if (!ctx.cameraKnown(camera))
    throw new RuleError(
      'E_UNKNOWN_CAMERA',
      field.replace(/\.rules\[\d+\]$/, '') || 'camera',
      `camera ${JSON.stringify(camera)} is neither in the site file nor seen on the results stream`,
    );
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new RuleError('E_BAD_RULE', field || '(root)', 'a rule is an object');
  const type = (raw as { type?: unknown }).type;
  const definition = findRuleType(type);
  if (!definition)
    throw new RuleError(
      'E_BAD_RULE',
      at('type'),
      `${JSON.stringify(type) ?? 'no type'}: a rule's type is one of ${RULE_TYPE_NAMES.join(', ')}`,
    );
  const parsed = definition.schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RuleError('E_BAD_RULE', fieldPath(issue.path, field), issue.message);
  }
  const spec = parsed.data;
  const max = spec.units === 'norm' ? 1 : 1_000_000;
  for (const [point, name] of definition.coordinates(spec))
    if (point[0] > max || point[1] > max)
      throw new RuleError('E_BAD_RULE', at(name), `normalised coordinates lie in [0, 1] (set units: "px" for pixels)`);
  const issue = definition.check(spec);
  if (issue) throw new RuleError('E_BAD_RULE', at(issue.field), issue.message);
  if (spec.classes) {
    const known = ctx.classesOf(camera);
    const unknown = spec.classes.findIndex((name: string) => !known?.has(name));
    if (unknown >= 0) {
      const why = known
        ? `not a class of this camera's model (${[...known].slice(0, 20).join(', ')})`
        : "the camera's model classes are unknown: declare them under models in the site file";
      throw new RuleError(
        'E_UNKNOWN_CLASS',
        at(`classes[${unknown}]`),
        `${JSON.stringify(spec.classes[unknown])}: ${why}`,
      );
    }
  }
  const defaults = ctx.defaults;
  // The key hashes everything but `source`, in this order: checkpoints keep a rule's state by it.
  const resolved = {
    id: spec.id,
    units: spec.units,
    classes: spec.classes,
    anchor: spec.anchor ?? defaults.anchor,
    inertia: spec.inertia ?? defaults.inertia,
    hysteresis: spec.hysteresis ?? defaults.hysteresis,
    source,
    type: definition.type,
    ...definition.fields(spec, defaults),
  };
  const { source: _source, ...keyed } = resolved;
  return { ...resolved, key: createHash('sha256').update(JSON.stringify(keyed)).digest('hex').slice(0, 16) } as Rule;
}

/** The rule as written by a user (what the API lists and the WebSocket feed draws). */
export function ruleView(r: Rule) {
  const { key: _key, ...view } = r;
  return view;
}

/** The rule as the feed sends it: with how the demo page draws it. */
export function drawnRuleView(r: Rule) {
  return { ...ruleView(r), draw: ruleType(r.type).draw(r) };
}
