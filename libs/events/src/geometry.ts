import type { Anchor } from '@vision/config';

export type Point = readonly [number, number];
export type Box = readonly [x1: number, y1: number, x2: number, y2: number];

/** The point of a box a rule tests. Bottom-centre is where a person or vehicle touches the ground. */
export function anchorOf(b: Box, anchor: Anchor): Point {
  const cx = (b[0] + b[2]) / 2;
  switch (anchor) {
    case 'bottom-center':
      return [cx, b[3]];
    case 'center':
      return [cx, (b[1] + b[3]) / 2];
    case 'top-center':
      return [cx, b[1]];
    case 'bottom-left':
      return [b[0], b[3]];
    case 'bottom-right':
      return [b[2], b[3]];
  }
}

export function iou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * IoU of the boxes grown by `buffer` times their own width and height on every side (C-BIoU, Yang
 * et al. 2023): at 2 fps a walking person moves more than its width between frames, and plain IoU
 * of consecutive boxes is zero.
 */
export function bufferedIou(a: Box, b: Box, buffer: number): number {
  if (buffer <= 0) return iou(a, b);
  const grow = (x: Box): Box => {
    const dw = (x[2] - x[0]) * buffer;
    const dh = (x[3] - x[1]) * buffer;
    return [x[0] - dw, x[1] - dh, x[2] + dw, x[3] + dh];
  };
  return iou(grow(a), grow(b));
}

/** Even-odd rule; points exactly on an edge may fall either way (the hysteresis band absorbs that). */
export function insidePolygon(p: Point, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Distance from `p` to the segment a–b. */
function distanceToSegment(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

export function distanceToPolygonEdge(p: Point, poly: readonly Point[]): number {
  let d = Infinity;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++)
    d = Math.min(d, distanceToSegment(p, poly[j], poly[i]));
  return d;
}

/**
 * Where `p` lies against the directed segment a→b: `d` is the signed distance (positive on the
 * right of a→b as drawn on an image, whose y axis points down) and `t` the projection along it
 * (0 at a, 1 at b).
 */
export function sideOfLine(p: Point, a: Point, b: Point): { d: number; t: number } {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len = Math.hypot(dx, dy);
  const px = p[0] - a[0];
  const py = p[1] - a[1];
  return { d: (dx * py - dy * px) / len, t: (px * dx + py * dy) / (len * len) };
}

function orientation(a: Point, b: Point, c: Point): number {
  const v = (b[1] - a[1]) * (c[0] - b[0]) - (b[0] - a[0]) * (c[1] - b[1]);
  return Math.abs(v) < 1e-12 ? 0 : v > 0 ? 1 : 2;
}

function onSegment(a: Point, b: Point, c: Point): boolean {
  return (
    Math.min(a[0], c[0]) <= b[0] &&
    b[0] <= Math.max(a[0], c[0]) &&
    Math.min(a[1], c[1]) <= b[1] &&
    b[1] <= Math.max(a[1], c[1])
  );
}

/** Whether segments p1–q1 and p2–q2 touch (collinear overlap included). */
function segmentsIntersect(p1: Point, q1: Point, p2: Point, q2: Point): boolean {
  const o1 = orientation(p1, q1, p2);
  const o2 = orientation(p1, q1, q2);
  const o3 = orientation(p2, q2, p1);
  const o4 = orientation(p2, q2, q1);
  if (o1 !== o2 && o3 !== o4) return true;
  return (
    (o1 === 0 && onSegment(p1, p2, q1)) ||
    (o2 === 0 && onSegment(p1, q2, q1)) ||
    (o3 === 0 && onSegment(p2, p1, q2)) ||
    (o4 === 0 && onSegment(p2, q1, q2))
  );
}

/** The first pair of non-adjacent edges that cross, as edge indices, or undefined for a simple polygon. */
export function selfIntersection(poly: readonly Point[]): [number, number] | undefined {
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (j === i + 1 || (i === 0 && j === n - 1)) continue; // adjacent edges share a vertex
      if (segmentsIntersect(poly[i], poly[(i + 1) % n], poly[j], poly[(j + 1) % n])) return [i, j];
    }
  }
  return undefined;
}

export function polygonArea(poly: readonly Point[]): number {
  let a = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) a += poly[j][0] * poly[i][1] - poly[i][0] * poly[j][1];
  return Math.abs(a) / 2;
}
