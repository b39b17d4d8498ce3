import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ANCHORS, type RuleDefaults } from '@vision/config';
import { polygonArea, selfIntersection, type Point } from './geometry';

export const EVENT_KINDS = ['zone.enter', 'zone.exit', 'zone.dwell', 'line.cross', 'count'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

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

const ID = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (1 to 64)');
const coord = z.number().finite().min(0).max(1_000_000);
const point = z.tuple([coord, coord]);
const common = {
  id: ID,
  /** `norm`: fractions of the image's width and height (0..1); `px`: pixels of the original image. */
  units: z.enum(['norm', 'px']).default('norm'),
  classes: z.array(z.string().min(1).max(128)).min(1).max(256).optional(),
  anchor: z.enum(ANCHORS).optional(),
  inertia: z.number().int().min(1).max(1000).optional(),
  hysteresis: z.number().min(0).max(10).optional(),
};

const zoneSpec = z.strictObject({
  ...common,
  type: z.literal('zone'),
  polygon: z.array(point).min(3, 'a polygon needs at least 3 points').max(64),
  exitInertia: z.number().int().min(1).max(1000).optional(),
  /** `zone.dwell` once a track has been inside this long. */
  dwellS: z
    .number()
    .positive()
    .max(7 * 86400)
    .optional(),
});

const lineSpec = z.strictObject({
  ...common,
  type: z.literal('line'),
  from: point,
  to: point,
  /** Which crossings make `line.cross` events (both are counted). */
  directions: z
    .array(z.enum(['in', 'out']))
    .min(1)
    .max(2)
    .default(['in', 'out']),
  /** Count each direction at most once per track (a track that comes back is not counted twice). */
  oncePerTrack: z.boolean().default(true),
});

const ruleSpecSchema = z.discriminatedUnion('type', [zoneSpec, lineSpec]);

const webhookSpec = z.strictObject({
  id: ID,
  url: z.string().min(1).max(2048),
  /** Camera ids (exact, or a prefix ending in `*`); absent: every camera. */
  cameras: z.array(z.string().min(1).max(255)).max(1024).optional(),
  kinds: z.array(z.enum(EVENT_KINDS)).min(1).optional(),
  rules: z.array(ID).max(1024).optional(),
});
export type WebhookSpec = z.infer<typeof webhookSpec>;

export const siteFileSchema = z.strictObject({
  /** Class names per model id, for validating class filters before the model's results are seen. */
  models: z.record(ID, z.array(z.string().min(1).max(128)).max(4096)).default({}),
  cameras: z
    .record(
      z.string().min(1).max(255),
      z.strictObject({ model: ID.optional(), rules: z.array(z.unknown()).default([]) }),
    )
    .default({}),
  webhooks: z.array(webhookSpec).max(64).default([]),
});

interface RuleBase {
  id: string;
  units: 'norm' | 'px';
  classes: string[] | undefined;
  anchor: RuleDefaults['anchor'];
  inertia: number;
  hysteresis: number;
  /** Hash of the resolved definition: state is kept across reloads only while it is unchanged. */
  key: string;
  source: 'file' | 'api';
}
export interface ZoneRule extends RuleBase {
  type: 'zone';
  polygon: Point[];
  exitInertia: number;
  dwellS: number | undefined;
}
export interface LineRule extends RuleBase {
  type: 'line';
  from: Point;
  to: Point;
  directions: ('in' | 'out')[];
  oncePerTrack: boolean;
}
export type Rule = ZoneRule | LineRule;

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
  const parsed = ruleSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RuleError('E_BAD_RULE', fieldPath(issue.path, field), issue.message);
  }
  const s = parsed.data;
  const max = s.units === 'norm' ? 1 : 1_000_000;
  const points =
    s.type === 'zone'
      ? s.polygon.map((p, i) => [p, `polygon[${i}]`] as const)
      : ([
          [s.from, 'from'],
          [s.to, 'to'],
        ] as const);
  for (const [p, name] of points)
    if (p[0] > max || p[1] > max)
      throw new RuleError('E_BAD_RULE', at(name), `normalised coordinates lie in [0, 1] (set units: "px" for pixels)`);
  if (s.type === 'zone') {
    const crossing = selfIntersection(s.polygon);
    if (crossing)
      throw new RuleError(
        'E_BAD_RULE',
        at('polygon'),
        `the polygon intersects itself (edges ${crossing[0]} and ${crossing[1]} cross)`,
      );
    if (polygonArea(s.polygon) < (s.units === 'norm' ? 1e-6 : 1))
      throw new RuleError('E_BAD_RULE', at('polygon'), 'the polygon has no area');
  } else if (Math.hypot(s.to[0] - s.from[0], s.to[1] - s.from[1]) < (s.units === 'norm' ? 1e-4 : 1)) {
    throw new RuleError('E_BAD_RULE', at('to'), 'the line has zero length (from and to are the same point)');
  }
  if (s.classes) {
    const known = ctx.classesOf(camera);
    const i = s.classes.findIndex((c) => !known?.has(c));
    if (i >= 0) {
      const why = known
        ? `not a class of this camera's model (${[...known].slice(0, 20).join(', ')})`
        : "the camera's model classes are unknown: declare them under models in the site file";
      throw new RuleError('E_UNKNOWN_CLASS', at(`classes[${i}]`), `${JSON.stringify(s.classes[i])}: ${why}`);
    }
  }
  const d = ctx.defaults;
  const base = {
    id: s.id,
    units: s.units,
    classes: s.classes,
    anchor: s.anchor ?? d.anchor,
    inertia: s.inertia ?? d.inertia,
    hysteresis: s.hysteresis ?? d.hysteresis,
    source,
  };
  const rule: Omit<ZoneRule, 'key'> | Omit<LineRule, 'key'> =
    s.type === 'zone'
      ? { ...base, type: 'zone', polygon: s.polygon, exitInertia: s.exitInertia ?? d.exitInertia, dwellS: s.dwellS }
      : { ...base, type: 'line', from: s.from, to: s.to, directions: s.directions, oncePerTrack: s.oncePerTrack };
  const { source: _source, ...keyed } = rule;
  return { ...rule, key: createHash('sha256').update(JSON.stringify(keyed)).digest('hex').slice(0, 16) } as Rule;
}

/** The rule as written by a user (what the API lists and the WebSocket feed draws). */
export function ruleView(r: Rule) {
  const { key: _key, ...view } = r;
  return view;
}
