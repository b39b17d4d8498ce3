import { createHash } from 'node:crypto';
import type { Box } from './geometry';
import type { EventKind, RuleCounts, RuleTypeName } from './rule-types';

/**
 * One site event (docs/events.asyncapi.yaml). Everything in it follows from the frames, so a replay
 * after a failover yields the same JSON.
 */
export interface SiteEvent {
  /** Deterministic from camera, rule, track, kind, capture time (and direction): a repeat carries the same id. */
  id: string;
  site: string;
  camera: string;
  rule: string;
  ruleType: RuleTypeName;
  kind: EventKind;
  /** Capture time (epoch ms) of the frame that made the event. */
  ts: number;
  frame: number;
  track?: number;
  class?: string;
  /** The track's box in original-image pixels [x1, y1, x2, y2]. */
  box?: [number, number, number, number];
  direction?: 'in' | 'out';
  /** Zone exits and dwells: when the track entered, and for how long it has been inside. */
  enteredTs?: number;
  dwellMs?: number;
  /** Zone exits: `left` (seen outside) or `lost` (the track ended inside). */
  reason?: 'left' | 'lost';
  /** `count` events: the rule's counts after this frame (a zone's occupancy, a line's totals); crowd events too. */
  counts?: RuleCounts;
  /** Track events, when snapshots are on: the API path of the frame's picture (`?crop=true`: the box). */
  snapshot?: string;
}

export function eventId(
  camera: string,
  rule: string,
  track: number | undefined,
  kind: EventKind,
  ts: number,
  extra = '',
): string {
  const h = createHash('sha256')
    .update(`${camera}\u0000${rule}\u0000${track ?? ''}\u0000${kind}\u0000${ts}\u0000${extra}`)
    .digest('base64url');
  return `ev_${h.slice(0, 22)}`;
}

export const roundBox = (b: Box): [number, number, number, number] =>
  [b[0], b[1], b[2], b[3]].map((v) => Math.round(v * 10) / 10) as [number, number, number, number];
