import { mkdtempSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsSnapshotStore, snapshotKeys, sweepSnapshots } from '../src';

/** Event ids whose two folder characters differ, so the groups spread over folders like real ones. */
const ids = Array.from({ length: 6 }, (_, i) => `ev_${String.fromCharCode(65 + i).repeat(22)}`);

async function storeWith(ages: number[], bytes: number) {
  const dir = mkdtempSync(join(tmpdir(), 'retention-'));
  const store = new FsSnapshotStore(dir);
  const now = Date.now();
  for (const [i, ageMs] of ages.entries()) {
    const keys = snapshotKeys(ids[i]);
    for (const key of [keys.record, keys.full, keys.crop]) {
      await store.put(key, Buffer.alloc(bytes / 3, i));
      const when = (now - ageMs) / 1000;
      utimesSync(join(dir, ...key.split('/')), when, when);
    }
  }
  return { store, now };
}

const remaining = async (store: FsSnapshotStore) =>
  [...new Set((await store.list()).map((o) => o.key.split('/')[1].split('.')[0]))].sort();

describe('snapshot retention', () => {
  it('a tiny byte budget deletes the oldest events first, all three objects of each', async () => {
    // Six events of 3000 bytes, the first the oldest.
    const { store, now } = await storeWith([60_000, 50_000, 40_000, 30_000, 20_000, 10_000], 3000);
    const result = await sweepSnapshots(store, { maxAgeMs: 0, maxBytes: 7000 }, now);
    expect(result).toEqual({ deleted: { age: 0, budget: 4 }, bytes: 6000, files: 6 });
    expect(await remaining(store)).toEqual([ids[4], ids[5]]);
  });

  it('never deletes the newest event, even alone above the budget', async () => {
    const { store, now } = await storeWith([30_000, 20_000, 10_000], 3000);
    const result = await sweepSnapshots(store, { maxAgeMs: 0, maxBytes: 1 }, now);
    expect(result.deleted.budget).toBe(2);
    expect(await remaining(store)).toEqual([ids[2]]);
  });

  it('deletes events past the age limit, and keeps the younger ones within the budget', async () => {
    const day = 86_400_000;
    const { store, now } = await storeWith([3 * day, 2 * day, 1000], 3000);
    const result = await sweepSnapshots(store, { maxAgeMs: 1.5 * day, maxBytes: 1_000_000 }, now);
    expect(result.deleted).toEqual({ age: 2, budget: 0 });
    expect(await remaining(store)).toEqual([ids[2]]);
  });
});
