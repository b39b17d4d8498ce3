import { anchorOf, distanceToPolygonEdge, insidePolygon, polygonArea, selfIntersection, type Point } from './geometry';
import type { Observation, RuleBase, RuleFrame, RuleIssue } from './rule-type';

/** One track's presence in a polygon rule (zones, crowds); checkpointed. */
export interface PresenceState {
  in: boolean;
  /** Observations in a row on the other side of the current state. */
  run: number;
  enteredTs: number;
  /** The entry was announced (the track was confirmed by then); exits follow only then. */
  announced: boolean;
  /** Zones: `zone.dwell` was emitted for this stay. */
  dwelt: boolean;
  cls: string;
}

/** Confirmed tracks inside, in all and by class. */
export interface OccupancyCounts {
  total: number;
  byClass: Record<string, number>;
}

export interface PresenceStep {
  rule: RuleBase & { exitInertia: number };
  /** The polygon in pixels. */
  geometry: readonly Point[];
  frame: RuleFrame;
  tracks: Record<string, PresenceState>;
  applies(observation: Observation): boolean;
}

/** What a polygon rule does when a track's presence changes; each is called for announced stays only. */
export interface PresenceHooks {
  entered?(observation: Observation, state: PresenceState): void;
  left?(observation: Observation, state: PresenceState, reason: 'left' | 'lost'): void;
  /** Every observation of an announced track inside, after `entered`. */
  inside?(observation: Observation, state: PresenceState): void;
}

/**
 * Who is inside a polygon. Entering needs `inertia` observations in a row inside; leaving needs
 * `exitInertia` in a row outside by more than the hysteresis band (a fraction of the box height, so
 * it scales with how much a box's anchor jitters). A stay is announced once its track is confirmed.
 */
export function followPresence(step: PresenceStep, hooks: PresenceHooks): void {
  const { rule, geometry: polygon, frame, tracks } = step;
  for (const gone of frame.removed) {
    const presence = tracks[gone.track.id];
    if (presence?.in && presence.announced) hooks.left?.(gone, presence, 'lost');
    delete tracks[gone.track.id];
  }
  for (const seen of frame.observed) {
    if (!step.applies(seen)) continue;
    const anchor = anchorOf(seen.box, rule.anchor);
    const inside = insidePolygon(anchor, polygon);
    const presence = tracks[seen.track.id] ?? {
      in: false,
      run: 0,
      enteredTs: 0,
      announced: false,
      dwelt: false,
      cls: seen.cls,
    };
    if (!presence.in) {
      presence.run = inside ? presence.run + 1 : 0;
      if (presence.run >= rule.inertia)
        Object.assign(presence, { in: true, run: 0, enteredTs: frame.ts, dwelt: false });
    } else {
      const band = rule.hysteresis * (seen.box[3] - seen.box[1]);
      const clear = !inside && distanceToPolygonEdge(anchor, polygon) > band;
      presence.run = clear ? presence.run + 1 : 0;
      if (presence.run >= rule.exitInertia) {
        if (presence.announced) hooks.left?.(seen, presence, 'left');
        Object.assign(presence, { in: false, run: 0, announced: false, dwelt: false });
      }
    }
    if (presence.in && !presence.announced && seen.track.phase !== 'tentative') {
      presence.announced = true;
      hooks.entered?.(seen, presence);
    }
    if (presence.in && presence.announced) hooks.inside?.(seen, presence);
    if (presence.in || presence.run) tracks[seen.track.id] = presence;
    else delete tracks[seen.track.id];
  }
}

/** The announced tracks inside, by class. */
export function occupancy(tracks: Record<string, PresenceState>): OccupancyCounts {
  const byClass: Record<string, number> = {};
  let total = 0;
  for (const presence of Object.values(tracks)) {
    if (!presence.in || !presence.announced) continue;
    total++;
    byClass[presence.cls] = (byClass[presence.cls] ?? 0) + 1;
  }
  return { total, byClass };
}

/** The polygon checks zones and crowds share: no crossing edges, some area. */
export function polygonIssue(polygon: readonly Point[], units: 'norm' | 'px'): RuleIssue | undefined {
  const crossing = selfIntersection(polygon);
  if (crossing)
    return {
      field: 'polygon',
      message: `the polygon intersects itself (edges ${crossing[0]} and ${crossing[1]} cross)`,
    };
  if (polygonArea(polygon) < (units === 'norm' ? 1e-6 : 1))
    return { field: 'polygon', message: 'the polygon has no area' };
  return undefined;
}
