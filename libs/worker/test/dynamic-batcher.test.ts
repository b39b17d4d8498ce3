import { describe, expect, it } from 'vitest';
import type { FrameJob } from '@vision/protocol';
import { MemoryTransport } from '@vision/transport';
import { DynamicBatcher } from '../src';

let seq = 0;
function job(deadlineInMs = 10_000): FrameJob {
  const now = Date.now();
  return { key: `k${++seq}`, edgeId: 'e', connId: 'c', frameId: seq, receivedAt: now, deadline: now + deadlineInMs, tenant: `t${seq}`, bytes: 1, image: Buffer.from([seq]) };
}
const never = () => false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DynamicBatcher', () => {
  it('closes a batch at maxBatch without waiting for the window', async () => {
    const q = new MemoryTransport({ maxQueue: 100 });
    for (let i = 0; i < 20; i++) await q.submit(job());
    const b = new DynamicBatcher(q, { maxBatch: 8, maxWaitMs: 5000 });
    const t0 = Date.now();
    const batch = await b.next(never);
    expect(batch!.live).toHaveLength(8);
    expect(Date.now() - t0).toBeLessThan(500);
    expect((await b.next(never))!.live.map((d) => d.job.frameId)).toEqual(batch!.live.map((d) => d.job.frameId + 8));
  });

  it('closes a partial batch when maxWaitMs has passed, taking frames that arrive in the window', async () => {
    const q = new MemoryTransport();
    const b = new DynamicBatcher(q, { maxBatch: 8, maxWaitMs: 150 });
    await q.submit(job());
    setTimeout(() => void q.submit(job()), 40);
    setTimeout(() => void q.submit(job()), 80);
    setTimeout(() => void q.submit(job()), 400); // after the window: next batch
    const t0 = Date.now();
    const batch = await b.next(never);
    const took = Date.now() - t0;
    expect(batch!.live).toHaveLength(3);
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(800);
    expect((await b.next(never))!.live).toHaveLength(1);
  });

  it('opens the window at the first frame, not when it starts waiting', async () => {
    const q = new MemoryTransport();
    const b = new DynamicBatcher(q, { maxBatch: 8, maxWaitMs: 100, idleBlockMs: 1000 });
    setTimeout(() => void q.submit(job()), 300);
    setTimeout(() => void q.submit(job()), 350); // 50 ms into the window
    const batch = await b.next(never);
    expect(batch!.live).toHaveLength(2);
  });

  it('never infers frames past their deadline and does not count them towards the size bound', async () => {
    const q = new MemoryTransport();
    await q.submit(job(-1));
    await q.submit(job());
    await q.submit(job(-5));
    await q.submit(job());
    const b = new DynamicBatcher(q, { maxBatch: 2, maxWaitMs: 50 });
    const batch = await b.next(never);
    expect(batch!.expired.map((d) => d.job.deadline < Date.now())).toEqual([true, true]);
    expect(batch!.live).toHaveLength(2);
    expect(batch!.live.every((d) => d.job.deadline > Date.now())).toBe(true);
  });

  it('returns only the expired frames when nothing live is waiting, and undefined once stopped', async () => {
    const q = new MemoryTransport();
    await q.submit(job(-1));
    const b = new DynamicBatcher(q, { maxBatch: 4, maxWaitMs: 10, idleBlockMs: 50 });
    const batch = await b.next(never);
    expect(batch).toMatchObject({ live: [], expired: [expect.anything()] });
    let stopped = false;
    setTimeout(() => (stopped = true), 100);
    expect(await b.next(() => stopped)).toBeUndefined();
    await sleep(1);
  });
});
