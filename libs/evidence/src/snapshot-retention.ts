import { eventIdOfKey } from './snapshot-record';
import type { SnapshotStore, StoredObject } from './snapshot-store';

export interface RetentionPolicy {
  /** Snapshots older than this go (0: no age limit). */
  maxAgeMs: number;
  /** Above this, the oldest snapshots go until it fits, but never the newest. */
  maxBytes: number;
}

export interface SweepResult {
  deleted: { age: number; budget: number };
  /** What the store holds after the sweep. */
  bytes: number;
  files: number;
}

interface Group {
  id: string;
  objects: StoredObject[];
  bytes: number;
  /** The newest write of the group: its snapshot's age. */
  modifiedMs: number;
}

/**
 * One pass of retention: every event's objects (record, picture, crop) go together, oldest first,
 * first those past the age limit, then as many as the byte budget needs. The newest event's
 * snapshot stays even alone above the budget: the last thing that happened is the one an operator
 * looks at.
 */
export async function sweepSnapshots(store: SnapshotStore, policy: RetentionPolicy, now = Date.now()) {
  const groups = new Map<string, Group>();
  for (const object of await store.list()) {
    const id = eventIdOfKey(object.key);
    if (!id) continue;
    const group = groups.get(id) ?? { id, objects: [], bytes: 0, modifiedMs: 0 };
    group.objects.push(object);
    group.bytes += object.bytes;
    group.modifiedMs = Math.max(group.modifiedMs, object.modifiedMs);
    groups.set(id, group);
  }
  const oldestFirst = [...groups.values()].sort((a, b) => a.modifiedMs - b.modifiedMs || a.id.localeCompare(b.id));
  const result: SweepResult = { deleted: { age: 0, budget: 0 }, bytes: 0, files: 0 };
  let bytes = oldestFirst.reduce((n, g) => n + g.bytes, 0);
  const kept: Group[] = [];
  for (const [i, group] of oldestFirst.entries()) {
    const newest = i === oldestFirst.length - 1;
    const expired = policy.maxAgeMs > 0 && now - group.modifiedMs > policy.maxAgeMs;
    const over = bytes > policy.maxBytes;
    if (newest || (!expired && !over)) {
      kept.push(group);
      continue;
    }
    await Promise.all(group.objects.map((o) => store.delete(o.key)));
    bytes -= group.bytes;
    result.deleted[expired ? 'age' : 'budget']++;
  }
  result.bytes = bytes;
  result.files = kept.reduce((n, g) => n + g.objects.length, 0);
  return result;
}
