import type { Rule } from './api';

export type Point = [number, number];

/** Normalised coordinates are sent with this many decimals: a ten-thousandth of the picture, finer than a pixel. */
const DECIMALS = 4;

export function round(p: Point): Point {
  const f = 10 ** DECIMALS;
  return [Math.round(p[0] * f) / f, Math.round(p[1] * f) / f];
}

/** Where a pointer event falls on `box`, as fractions of its width and height, clamped into it. */
export function normalisedPoint(e: { clientX: number; clientY: number }, box: DOMRect): Point {
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  return round([clamp((e.clientX - box.left) / box.width), clamp((e.clientY - box.top) / box.height)]);
}

/**
 * The `in` arrow of a line: from its midpoint towards the right of someone standing at `from`
 * facing `to` (docs/events.md), on a picture whose y grows downwards, as long as `length` of the
 * picture. Undefined for a zero-length line.
 */
export function inArrow(from: Point, to: Point, length: number): [Point, Point] | undefined {
  const dx = to[0] - from[0];
  const dy = to[1] - from[1];
  const norm = Math.hypot(dx, dy);
  if (norm === 0) return undefined;
  const mid: Point = [(from[0] + to[0]) / 2, (from[1] + to[1]) / 2];
  return [mid, [mid[0] - (dy / norm) * length, mid[1] + (dx / norm) * length]];
}

/** A rule's points in normalised units, whichever units it was written in (`size`: the picture's pixels). */
export function rulePoints(rule: Rule, size: { w: number; h: number } | undefined): Point[] {
  const raw = rule.type === 'line' ? [rule.from, rule.to] : (rule.polygon ?? []);
  const scale = rule.units === 'px' ? size : { w: 1, h: 1 };
  if (!scale) return [];
  return raw.filter((p): p is Point => Array.isArray(p)).map((p) => [p[0] / scale.w, p[1] / scale.h]);
}

export interface Draft {
  id: string;
  type: 'line' | 'zone';
  points: Point[];
  classes: string[];
  /** Observations in a row before entering (or crossing) counts; undefined: the site's default. */
  inertia?: number;
  /** Zones: `zone.dwell` once a track has stayed this many seconds; undefined: no dwell events. */
  dwellS?: number;
}

/** A zone's corners with one more halfway along the edge after corner `after` (the last edge closes the polygon). */
export function insertVertex(points: Point[], after: number): Point[] {
  const a = points[after];
  const b = points[(after + 1) % points.length];
  return [...points.slice(0, after + 1), round([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]), ...points.slice(after + 1)];
}

/** The body the events API takes for a draft (normalised units). */
export function ruleBody(draft: Draft): Record<string, unknown> {
  const base = {
    id: draft.id,
    type: draft.type,
    units: 'norm',
    ...(draft.classes.length ? { classes: draft.classes } : {}),
    ...(draft.inertia !== undefined ? { inertia: draft.inertia } : {}),
  };
  if (draft.type === 'line') return { ...base, from: draft.points[0], to: draft.points[1] };
  return { ...base, polygon: draft.points, ...(draft.dwellS !== undefined ? { dwellS: draft.dwellS } : {}) };
}

/** A draft from a rule, to change it. */
export function draftOf(rule: Rule, size: { w: number; h: number } | undefined): Draft {
  return {
    id: rule.id,
    type: rule.type,
    points: rulePoints(rule, size).map(round),
    classes: rule.classes ?? [],
    ...(rule.inertia !== undefined ? { inertia: rule.inertia } : {}),
    ...(rule.dwellS !== undefined ? { dwellS: rule.dwellS } : {}),
  };
}
