import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Detection } from '@vision/wire';
import type { FrameJob, FrameOutcomeMessage } from '@vision/transport';
import { loadConfig } from '@vision/config';
import { admissionFrom, MemoryTransport } from '@vision/transport';
import { InferenceWorker, type Detector, type InferenceWorkerOptions } from '../src';
import { sleep } from '@vision/testing';

const log = pino({ level: 'silent' });
let seq = 0;
const GEOMETRY = { origWidth: 640, origHeight: 480 };
/** Worker options with what a test does not care about spelled out (decoders, backfill rules). */
const options = (
  o: Partial<InferenceWorkerOptions> & Pick<InferenceWorkerOptions, 'maxBatch'>,
): InferenceWorkerOptions => ({
  model: MODEL,
  maxWaitMs: 0,
  decodeConcurrency: 4,
  idleBlockMs: 50,
  backfillMaxBatch: o.maxBatch,
  backfillTopUp: true,
  backfillYield: true,
  ...o,
});

const MODEL = { id: 'm', version: '1' };

function job(opts: { deadlineInMs?: number; tenant?: string } = {}): FrameJob {
  const now = Date.now();
  const n = ++seq;
  return {
    key: `k${n}`,
    edgeId: 'e',
    connId: 'c',
    frameId: n,
    receivedAt: now,
    deadline: now + (opts.deadlineInMs ?? 10_000),
    tenant: opts.tenant ?? `t${n}`,
    bytes: 1,
    cost: 1,
    image: Buffer.from([n & 255]),
    model: 'm',
  };
}

/** An engine whose batches take `inferMs`; it records every batch (frame ids) and decode. */
function slowEngine(inferMs: number, concurrency = 1) {
  const batches: { ids: number[]; startedAt: number; endedAt?: number }[] = [];
  const decoded: number[] = [];
  const engine: Detector<{ decodeMs: number; id: number; geometry: typeof GEOMETRY }> = {
    concurrency,
    async decode(image) {
      decoded.push(image[0]);
      await sleep(1);
      return { decodeMs: 1, id: image[0], geometry: GEOMETRY };
    },
    async infer(frames) {
      const batch: (typeof batches)[number] = { ids: frames.map((f) => f.id), startedAt: Date.now() };
      batches.push(batch);
      await sleep(inferMs);
      batch.endedAt = Date.now();
      return { frames: frames.map(() => ({ detections: [] as Detection[], high: 0 })), inferenceMs: inferMs };
    },
  };
  return { engine, batches, decoded };
}

/** An in-memory queue: an edge collecting outcomes, and the worker view of model 'm'. */
async function memoryQueue() {
  const q = new MemoryTransport({ ...admissionFrom(loadConfig({})), maxQueue: 1000, tenantMaxQueue: 1000 });
  const outcomes: FrameOutcomeMessage[] = [];
  await q.start('e', (m) => outcomes.push(m));
  const w = q.worker('m');
  await w.start('w');
  return { q, outcomes, w };
}

/** A backfill source handing out `frames` as asked; `recorded` gets each finished frame's first image byte. */
function arrayBackfill(frames: FrameJob[]) {
  const recorded: number[] = [];
  const backfill = {
    async read(max: number, blockMs: number) {
      if (frames.length === 0) await sleep(blockMs);
      return frames.splice(0, max).map((j) => ({ id: `b${j.key}`, job: j, deliveryCount: 1, pickedAt: Date.now() }));
    },
    async complete(done: { delivery: { job: { image: Buffer } } }[]) {
      recorded.push(...done.map((f) => f.delivery.job.image[0]));
    },
  };
  return { backfill, recorded };
}

async function setup(inferMs: number, opts: { maxBatch?: number; maxWaitMs?: number; concurrency?: number } = {}) {
  const { q, outcomes, w } = await memoryQueue();
  const fake = slowEngine(inferMs, opts.concurrency);
  const worker = new InferenceWorker(
    w,
    fake.engine,
    options({ maxBatch: opts.maxBatch ?? 8, maxWaitMs: opts.maxWaitMs ?? 0 }),
    log,
  );
  worker.start();
  return { q, outcomes, worker, ...fake };
}

describe('InferenceWorker (engine-driven batching)', () => {
  it('runs a lone frame at once on an idle engine: no batching window', async () => {
    const { q, batches, worker } = await setup(20);
    const lone = job();
    await q.submit(lone);
    // A second frame follows soon after: the lone one has not waited for it.
    setTimeout(() => void q.submit(job()), 300);
    await expect.poll(() => batches.length, { timeout: 2000 }).toBe(2);
    expect(batches[0].ids).toEqual([lone.frameId & 255]);
    expect(batches[0].endedAt).toBeLessThanOrEqual(batches[1].startedAt);
    await worker.stop();
  });

  it('puts every frame that arrived during batch k into batch k+1, up to maxBatch', async () => {
    const { q, batches, outcomes, worker } = await setup(200, { maxBatch: 8 });
    const first = job();
    await q.submit(first);
    await expect.poll(() => batches.length, { interval: 1 }).toBe(1);
    const during = Array.from({ length: 5 }, () => job());
    for (const j of during) {
      await q.submit(j);
      await sleep(20);
    }
    await expect.poll(() => batches.length, { timeout: 2000 }).toBe(2);
    expect(batches[0].ids).toEqual([first.frameId & 255]);
    expect(batches[1].ids).toEqual(during.map((j) => j.frameId & 255));
    // 20 arriving during one run: the next two batches are full, the rest follows.
    const burst = Array.from({ length: 20 }, () => job());
    for (const j of burst) await q.submit(j);
    await expect.poll(() => outcomes.length, { timeout: 5000 }).toBe(26);
    expect(batches.slice(2).map((b) => b.ids.length)).toEqual([8, 8, 4]);
    await worker.stop();
  });

  it('with maxWaitMs, an idle engine waits for company up to that long', async () => {
    const { q, batches, worker } = await setup(5, { maxWaitMs: 150 });
    const t0 = Date.now();
    await q.submit(job());
    setTimeout(() => void q.submit(job()), 40);
    await expect.poll(() => batches.length, { timeout: 2000 }).toBe(1);
    expect(batches[0].ids).toHaveLength(2);
    expect(batches[0].startedAt - t0).toBeGreaterThanOrEqual(140);
    await worker.stop();
  });

  it('never decodes or infers a frame past its deadline', async () => {
    const { q, batches, decoded, outcomes, worker } = await setup(100, { maxBatch: 2 });
    const live = [job(), job()];
    await q.submit(live[0]);
    await expect.poll(() => batches.length, { interval: 1 }).toBe(1);
    const late = job({ deadlineInMs: 50 });
    await q.submit(late); // decoded while batch 1 runs, expires before an engine is free
    await q.submit(job({ deadlineInMs: -1 })); // already expired when read: never decoded
    await q.submit(live[1]);
    await expect.poll(() => outcomes.length, { timeout: 2000 }).toBe(4);
    const codes = Object.fromEntries(outcomes.map((o) => [o.key, o.ok ? 'result' : o.error.code]));
    expect(codes[late.key]).toBe('E_EXPIRED');
    expect(Object.values(codes).filter((c) => c === 'E_EXPIRED')).toHaveLength(2);
    expect(decoded).toHaveLength(3);
    expect(batches.flatMap((b) => b.ids)).toEqual(live.map((j) => j.frameId & 255));
    await worker.stop();
  });

  it("takes ready frames round-robin by tenant: one tenant's burst does not crowd out another's frame", async () => {
    const { q, batches, outcomes, worker } = await setup(100, { maxBatch: 4 });
    await q.submit(job({ tenant: 'hog' }));
    await expect.poll(() => batches.length).toBe(1);
    // Within the ready pool (maxBatch × 2 = 8 frames here); beyond it, the admission share bounds the hog.
    const hog = Array.from({ length: 6 }, () => job({ tenant: 'hog' }));
    for (const j of hog) await q.submit(j);
    const camera = job({ tenant: 'camera' });
    await q.submit(camera);
    await expect.poll(() => outcomes.length, { timeout: 3000 }).toBe(8);
    expect(batches[1].ids).toHaveLength(4);
    expect(batches[1].ids).toContain(camera.frameId & 255);
    await worker.stop();
  });

  it("shares the decoders by tenant: a tenant's slow images do not hold up another tenant's frame", async () => {
    const { q, outcomes, w } = await memoryQueue();
    const decodedAt = new Map<number, number>();
    const engine: Detector = {
      concurrency: 1,
      async decode(image) {
        await sleep(image[0] === 255 ? 5 : 300); // 255: the camera's cheap frame
        decodedAt.set(image[0], Date.now());
        return { decodeMs: 1, geometry: GEOMETRY };
      },
      async infer(frames) {
        return { frames: frames.map(() => ({ detections: [] as Detection[], high: 0 })), inferenceMs: 1 };
      },
    };
    const worker = new InferenceWorker(w, engine, options({ maxBatch: 8, decodeConcurrency: 2 }), log);
    worker.start();
    for (let i = 0; i < 6; i++) await q.submit({ ...job({ tenant: 'hog' }), image: Buffer.from([i]) });
    await sleep(20);
    await q.submit({ ...job({ tenant: 'camera' }), image: Buffer.from([255]) });
    await expect.poll(() => outcomes.length, { timeout: 5000 }).toBe(7);
    // Two decoders: the hog holds at most one while another tenant waits, so the camera's cheap
    // frame is decoded before any of the hog's slow images, not after the hog's queue.
    const hogDecodedAt = [0, 1, 2, 3, 4, 5].map((i) => decodedAt.get(i)!);
    expect(decodedAt.get(255)!).toBeLessThan(Math.min(...hogDecodedAt));
    await worker.stop();
  });

  it('runs up to `concurrency` batches at once', async () => {
    const { q, batches, worker } = await setup(200, { maxBatch: 1, concurrency: 2 });
    for (let i = 0; i < 2; i++) await q.submit(job());
    await expect.poll(() => batches.length, { timeout: 1000 }).toBe(2);
    // The second started while the first was still running.
    await expect.poll(() => batches[0].endedAt, { timeout: 1000 }).toBeDefined();
    expect(batches[1].startedAt).toBeLessThan(batches[0].endedAt!);
    await worker.stop();
  });

  it('finishes and acknowledges everything it took when stopped', async () => {
    const { q, outcomes, worker } = await setup(100);
    for (let i = 0; i < 5; i++) await q.submit(job());
    await sleep(20);
    await worker.stop();
    expect(outcomes).toHaveLength(5);
    expect(outcomes.every((o) => o.ok)).toBe(true);
  });

  it('fills idle capacity with backfill; a real-time frame waits at most for the batch running', async () => {
    const { q, outcomes, w } = await memoryQueue();
    const fake = slowEngine(100);
    // 40 bulk images (ids 100..139), handed out as the worker asks for them.
    const { backfill, recorded } = arrayBackfill(
      Array.from({ length: 40 }, (_, i) => ({ ...job(), image: Buffer.from([100 + i]) })),
    );
    const worker = new InferenceWorker(w, fake.engine, options({ maxBatch: 4, backfill }), log);
    worker.start();
    await sleep(250); // bulk batches are running back to back
    expect(fake.batches.length).toBeGreaterThan(1);
    const t0 = Date.now();
    const live = { ...job(), image: Buffer.from([7]) };
    await q.submit(live);
    await expect.poll(() => outcomes.length, { timeout: 2000 }).toBe(1);
    const carried = fake.batches.find((b) => b.ids.includes(7))!;
    // It rides in the first batch that starts after it arrived: at most one (100 ms) batch later.
    expect(fake.batches.filter((b) => b.startedAt >= t0).indexOf(carried)).toBe(0);
    expect(fake.batches.indexOf(carried)).toBe(fake.batches.filter((b) => b.startedAt < t0).length);
    await expect.poll(() => recorded.length, { timeout: 5000 }).toBe(40);
    // Bulk outcomes went to the backfill source, never to the real-time queue.
    expect(outcomes).toHaveLength(1);
    expect([...recorded].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => 100 + i));
    await worker.stop();
  });

  it('starts backfill only when it ends before the next frame of a steady camera is due', async () => {
    const { q, outcomes, w } = await memoryQueue();
    const fake = slowEngine(100);
    const { backfill, recorded } = arrayBackfill(
      Array.from({ length: 200 }, (_, i) => ({ ...job(), image: Buffer.from([100 + (i % 100)]) })),
    );
    const worker = new InferenceWorker(w, fake.engine, options({ maxBatch: 1, backfill }), log);
    worker.start();
    // A camera every 250 ms: a 100 ms backfill run fits between two of its frames, not across one.
    const waits: number[] = [];
    const sentAtById = new Map<number, number>();
    for (let i = 0; i < 12; i++) {
      const sentAt = Date.now();
      const id = 1 + i;
      sentAtById.set(id, sentAt);
      await q.submit({ ...job({ tenant: 'site' }), image: Buffer.from([id]), connId: 'camera' });
      void expect
        .poll(() => fake.batches.some((b) => b.ids.includes(id)), { timeout: 2000, interval: 1 })
        .toBe(true)
        .then(() => {
          waits.push(fake.batches.find((b) => b.ids.includes(id))!.startedAt - sentAt);
        });
      await sleep(250);
    }
    await expect.poll(() => waits.length, { timeout: 2000 }).toBe(12);
    // Every camera frame answered, on the live queue.
    await expect.poll(() => outcomes.length, { timeout: 2000 }).toBe(12);
    // Once the camera's rate is learned (a few frames), its frames start at once: no backfill run
    // (ids from 100) ran between a frame's arrival and its start.
    const inTheWay = [...sentAtById].slice(4).filter(([id, sentAt]) => {
      const startedAt = fake.batches.find((b) => b.ids.includes(id))!.startedAt;
      return fake.batches.some((b) => b.ids[0] >= 100 && b.startedAt < startedAt && (b.endedAt ?? Infinity) > sentAt);
    });
    expect(inTheWay).toEqual([]);
    expect(recorded.length).toBeGreaterThan(5); // the idle time between frames still went to backfill
    await worker.stop();
  });
});
