import type { CameraPipeline } from './camera-pipeline';
import { compareStreamIds } from './reorder-buffer';
import type { SiteEvent } from './site-event';

/** What this instance holds of one results shard it owns, and what changed since its last commit. */
export interface ShardState {
  token: string;
  /** Last stream id read. */
  readPos: string;
  committedPos: string;
  cameras: Map<string, CameraPipeline>;
  /** Cameras whose state changed, or was dropped, since the last commit. */
  dirty: Set<string>;
  deleted: Set<string>;
  counts: Map<string, string>;
  pending: SiteEvent[];
  crossings: { camera: string; rule: string; direction: 'in' | 'out' }[];
  lastCommit: number;
}

/** What changed since the last commit; a commit takes it out of the shard's state. */
export type ShardChanges = Pick<ShardState, 'dirty' | 'deleted' | 'counts' | 'pending' | 'crossings'>;

/** A shard just acquired: reading and its commits start at the checkpoint's position. */
export function newShardState(
  token: string,
  pos: string,
  cameras: Map<string, CameraPipeline>,
  now: number,
): ShardState {
  return {
    token,
    readPos: pos,
    committedPos: pos,
    cameras,
    dirty: new Set(),
    deleted: new Set(),
    counts: new Map(),
    pending: [],
    crossings: [],
    lastCommit: now,
  };
}

/** Where a new owner resumes reading: before the oldest frame still held in a reorder buffer. */
export function resumePosition(st: ShardState): string {
  let oldest: string | undefined;
  for (const pipe of st.cameras.values()) {
    const id = pipe.oldestId();
    if (id !== undefined && (oldest === undefined || compareStreamIds(id, oldest) < 0)) oldest = id;
  }
  return oldest !== undefined ? streamIdBefore(oldest) : st.readPos;
}

/** Takes the changes out of `st`, leaving it empty for the next step. */
export function takeChanges(st: ShardState): ShardChanges {
  const taken = {
    dirty: st.dirty,
    deleted: st.deleted,
    counts: st.counts,
    pending: st.pending,
    crossings: st.crossings,
  };
  Object.assign(st, { dirty: new Set(), deleted: new Set(), counts: new Map(), pending: [], crossings: [] });
  return taken;
}

/** Puts changes a failed commit took back in front of what came meanwhile. */
export function putBackChanges(st: ShardState, taken: ShardChanges): void {
  for (const c of taken.dirty) st.dirty.add(c);
  for (const c of taken.deleted) st.deleted.add(c);
  for (const [c, v] of taken.counts) if (!st.counts.has(c)) st.counts.set(c, v);
  st.pending = [...taken.pending, ...st.pending];
  st.crossings = [...taken.crossings, ...st.crossings];
}

/** The id just before `id`, so that XREAD from it reads `id` again. */
export function streamIdBefore(id: string): string {
  const [ms, seq] = id.split('-');
  if (seq !== '0') return `${ms}-${(BigInt(seq) - 1n).toString()}`;
  return ms === '0' ? '0-0' : `${BigInt(ms) - 1n}-18446744073709551615`;
}
