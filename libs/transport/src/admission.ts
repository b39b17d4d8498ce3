import { VisionError } from '@vision/wire';

/** How an edge's admission is bounded (one tenant = one token subject or address). */
export interface AdmissionLimits {
  /** Frames waiting for a worker beyond which new frames are refused. */
  maxQueue: number;
  /**
   * Most cost units one tenant may have open, admitted and not finished (its fair share is also at most
   * maxQueue / active tenants).
   */
  tenantMaxQueue: number;
  /** Encoded bytes admitted and not yet finished, across all tenants. */
  maxQueueBytes: number;
  /** Cost units per second one tenant may submit, across all edges (token bucket of one second). */
  tenantFramesPerSecond: number;
}

/**
 * What admission knows when a frame arrives. The memory transport reads it from its maps; the
 * Redis admission script (`lua/submit.lua`) reads the same facts from Redis and applies the same
 * checks in the same order.
 */
export interface AdmissionState {
  now: number;
  /** Workers of the frame's model that reported in recently. */
  workers: number;
  /** The tenant's rate bucket when it was last charged; undefined: full. */
  bucket: { tokens: number; at: number } | undefined;
  /** Cost units the tenant has open. */
  mine: number;
  /** Tenants with open frames (this one included if it has any). */
  activeTenants: number;
  /** Frames waiting for a worker. */
  backlog: number;
  /** Encoded bytes admitted and not finished. */
  bytes: number;
}

export type Refusal = 'no-worker' | 'over-rate' | 'over-share' | 'backlog-full' | 'bytes-full';

export type AdmissionDecision =
  | { outcome: 'admitted'; /** The tenant's bucket after this frame. */ tokens: number }
  | { outcome: Refusal; retryAfterMs: number };

/**
 * The one admission policy, checks in this order: a worker serves the model; the tenant's rate
 * (cost units per second); the tenant's fair share of the backlog (cost units open, at most
 * `maxQueue / active tenants` and `tenantMaxQueue`; a tenant with nothing open may always send
 * one frame, however costly); the backlog; the byte budget. Pure: it changes nothing.
 */
export function decideAdmission(
  s: AdmissionState,
  frame: { cost: number; bytes: number },
  l: AdmissionLimits,
): AdmissionDecision {
  if (s.workers === 0) return { outcome: 'no-worker', retryAfterMs: 0 };
  const rate = l.tenantFramesPerSecond;
  const burst = Math.max(1, rate);
  // A frame costlier than a full bucket still passes, alone, once the bucket is full.
  const charge = Math.min(frame.cost, burst);
  const tokens = s.bucket ? Math.min(burst, s.bucket.tokens + (Math.max(0, s.now - s.bucket.at) * rate) / 1000) : burst;
  if (tokens < charge) return { outcome: 'over-rate', retryAfterMs: Math.ceil(((charge - tokens) * 1000) / rate) };
  const active = s.activeTenants + (s.mine === 0 ? 1 : 0);
  const share = Math.min(l.tenantMaxQueue, Math.max(1, Math.floor(l.maxQueue / active)));
  if (s.mine > 0 && s.mine + frame.cost > share) return { outcome: 'over-share', retryAfterMs: 0 };
  if (s.backlog >= l.maxQueue) return { outcome: 'backlog-full', retryAfterMs: 0 };
  if (s.bytes + frame.bytes > l.maxQueueBytes) return { outcome: 'bytes-full', retryAfterMs: 0 };
  return { outcome: 'admitted', tokens: tokens - charge };
}

/** What each refusal tells the client. */
export function refusalError(outcome: Refusal, retryAfterMs: number): VisionError {
  switch (outcome) {
    case 'no-worker':
      return new VisionError('E_UNAVAILABLE', 'no worker is serving the model');
    case 'over-rate':
      return new VisionError('E_RATE_LIMITED', 'tenant frame rate exceeded', { retryAfterMs });
    case 'over-share':
      return new VisionError('E_OVERLOADED', "the tenant's share of the backlog is full");
    case 'backlog-full':
      return new VisionError('E_OVERLOADED', 'the backlog is full');
    case 'bytes-full':
      return new VisionError('E_OVERLOADED', 'the byte budget of admitted frames is full');
  }
}

/**
 * What a frame costs in admission: its decoded pixels in units of `unitPixels` (a 4K frame by
 * default), at least 1. Decoding and inference time grow with pixels, so a 40-megapixel photo
 * counts as many camera frames and one subject's costly images cannot take the share of many.
 */
export function frameCost(dimensions: { width: number; height: number } | undefined, unitPixels: number): number {
  if (!dimensions) return 1;
  return Math.max(1, Math.ceil((dimensions.width * dimensions.height) / unitPixels));
}
