import { describe, expect, it } from 'vitest';
import { compareStreamIds, ReorderBuffer } from '../src/reorder-buffer';
import { streamIdBefore } from '../src/shard-state';

const item = (id: string, ts: number, frame: number, arrivedAt = 0) => ({ id, ts, frame, arrivedAt, item: frame });

describe('reorder buffer', () => {
  it('releases in capture order once a frame a window newer arrives, or the window passed on the wall clock', () => {
    const b = new ReorderBuffer<number>(300, 100);
    expect(b.offer(item('1-0', 1000, 1))).toBe('buffered');
    expect(b.offer(item('1-1', 1200, 3))).toBe('buffered');
    expect(b.offer(item('1-2', 1100, 2))).toBe('buffered');
    expect(b.ready(10).map((x) => x.frame)).toEqual([]);
    expect(b.offer(item('1-3', 1450, 4))).toBe('buffered');
    expect(b.ready(10).map((x) => x.frame)).toEqual([1, 2]);
    expect(b.oldestId()).toBe('1-1');
    expect(b.ready(310).map((x) => x.frame)).toEqual([3, 4]);
    expect(b.oldestId()).toBeUndefined();
  });

  it('drops re-runs (same frame id and capture time) and frames older than one released, not restarts', () => {
    const b = new ReorderBuffer<number>(0, 100);
    b.offer(item('1-0', 1000, 7));
    expect(b.offer(item('1-1', 1000, 7))).toBe('duplicate');
    b.ready(0);
    expect(b.offer(item('1-2', 1000, 7))).toBe('duplicate');
    expect(b.offer(item('1-3', 900, 6))).toBe('late');
    // A client that reconnected starts its frame ids again: a new capture time tells them apart.
    expect(b.offer(item('1-4', 2000, 7))).toBe('buffered');
  });

  it('resumes from a snapshot with the same watermark and recent frames', () => {
    const b = new ReorderBuffer<number>(0, 100);
    b.offer(item('1-0', 1000, 1));
    b.ready(0);
    const copy = new ReorderBuffer<number>(0, 100, JSON.parse(JSON.stringify(b.snapshot())));
    expect(copy.offer(item('1-0', 1000, 1))).toBe('duplicate');
    expect(copy.offer(item('0-9', 999, 0))).toBe('late');
    expect(
      new ReorderBuffer<number>(0, 100, JSON.parse(JSON.stringify(new ReorderBuffer<number>(0, 1).snapshot()))).offer(
        item('1-0', 5, 1),
      ),
    ).toBe('buffered');
  });

  it('holds at most maxPending frames whatever their capture times', () => {
    const b = new ReorderBuffer<number>(60_000, 2);
    for (let i = 0; i < 5; i++) b.offer(item(`1-${i}`, 1000 + i, i));
    expect(b.ready(0).map((x) => x.frame)).toEqual([0, 1, 2]);
    expect(b.size).toBe(2);
  });
});

describe('stream ids', () => {
  it('order numerically and step back by one', () => {
    expect(compareStreamIds('10-0', '9-5')).toBeGreaterThan(0);
    expect(compareStreamIds('9-10', '9-9')).toBeGreaterThan(0);
    expect(streamIdBefore('5-3')).toBe('5-2');
    expect(streamIdBefore('5-0')).toBe('4-18446744073709551615');
    expect(streamIdBefore('0-0')).toBe('0-0');
  });
});
