import type { Box } from './geometry';

/**
 * Constant-velocity Kalman filter of a box (centre x, centre y, width, height, each with its
 * velocity in px/s), predicted across any gap in capture time, so 2 fps and 30 fps cameras share it.
 *
 * ByteTrack's 8-state filter has block-diagonal transition, process and measurement noise; started
 * block-diagonal, its covariance stays so, and the filter is exactly four independent 2-state
 * filters (position, velocity). That is what this is: a few lines of scalar arithmetic per box
 * instead of 8x8 matrix products, so no matrix library (docs/events.md).
 *
 * Noise follows ByteTrack's weights (position 1/20 and velocity 1/160 of the box size per frame at
 * its 30 fps), scaled by the elapsed time.
 */
export interface KalmanState {
  /** [cx, vx, cy, vy, w, vw, h, vh] */
  x: number[];
  /** Per dimension, the 2x2 covariance as [pp, pv, vv]. */
  p: number[];
  /** Capture time (ms) the state describes. */
  t: number;
}

/** Position noise as a share of the box size (the weights SORT-style trackers use). */
const POS_W = 1 / 20;
/** Velocity noise as a share of the box size per frame at REF_FPS. */
const VEL_W = 1 / 160;
/** The frame rate the noise weights were set for: noise is scaled from it to the real time step. */
const REF_FPS = 30;

/** Scale of each dimension's noise: widths for x and w, heights for y and h. */
function scales(x: number[]): [number, number, number, number] {
  const w = Math.max(1, x[4]);
  const h = Math.max(1, x[6]);
  return [w, h, w, h];
}

export function kalmanInit(b: Box, t: number): KalmanState {
  const x = [(b[0] + b[2]) / 2, 0, (b[1] + b[3]) / 2, 0, b[2] - b[0], 0, b[3] - b[1], 0];
  const p: number[] = [];
  for (const s of scales(x)) p.push((2 * POS_W * s) ** 2, 0, (10 * VEL_W * s * REF_FPS) ** 2);
  return { x, p, t };
}

/** The state at capture time `t` (never backwards: an older `t` leaves it as it is). */
export function kalmanPredict(k: KalmanState, t: number): KalmanState {
  const dt = (t - k.t) / 1000;
  if (dt <= 0) return k;
  const x = k.x.slice();
  const p = k.p.slice();
  const frames = dt * REF_FPS;
  scales(k.x).forEach((s, d) => {
    const i = 2 * d;
    const j = 3 * d;
    x[i] += x[i + 1] * dt;
    const [pp, pv, vv] = [p[j], p[j + 1], p[j + 2]];
    // F P F' with F = [[1, dt], [0, 1]], plus Q (random walk of position and velocity).
    p[j] = pp + 2 * dt * pv + dt * dt * vv + (POS_W * s) ** 2 * frames;
    p[j + 1] = pv + dt * vv;
    p[j + 2] = vv + (VEL_W * s * REF_FPS) ** 2 * frames;
  });
  return { x, p, t };
}

/** Folds in a measured box at the state's time. */
export function kalmanUpdate(k: KalmanState, b: Box): KalmanState {
  const z = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]];
  const x = k.x.slice();
  const p = k.p.slice();
  scales(k.x).forEach((s, d) => {
    const i = 2 * d;
    const j = 3 * d;
    const r = (POS_W * s) ** 2;
    const [pp, pv, vv] = [p[j], p[j + 1], p[j + 2]];
    const sInv = 1 / (pp + r);
    const kp = pp * sInv;
    const kv = pv * sInv;
    const y = z[d] - x[i];
    x[i] += kp * y;
    x[i + 1] += kv * y;
    p[j] = (1 - kp) * pp;
    p[j + 1] = (1 - kp) * pv;
    p[j + 2] = vv - kv * pv;
  });
  return { x, p, t: k.t };
}

export function kalmanBox(k: KalmanState): Box {
  const [cx, , cy, , w, , h] = k.x;
  const hw = Math.max(0.5, w) / 2;
  const hh = Math.max(0.5, h) / 2;
  return [cx - hw, cy - hh, cx + hw, cy + hh];
}

/** Lost tracks stop growing or shrinking (ByteTrack zeroes the size velocity while lost). */
export function kalmanFreezeSize(k: KalmanState): KalmanState {
  const x = k.x.slice();
  x[5] = 0;
  x[7] = 0;
  return { ...k, x };
}
