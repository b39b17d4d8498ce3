import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { cleanupPrefix, startTestRedis, uniquePrefix, type TestRedis } from '@vision/testing';
import { VisionError } from '@vision/wire';
import {
  decideAdmission,
  MemoryTransport,
  RedisEdgeTransport,
  redisKeys,
  refusalError,
  type AdmissionLimits,
  type EdgeTransport,
  type FrameJob,
  type Refusal,
} from '../src';

const M = 'default';
const BASE: AdmissionLimits = { maxQueue: 64, tenantMaxQueue: 16, maxQueueBytes: 1 << 20, tenantFramesPerSecond: 300 };

interface Scenario {
  name: string;
  limits: Partial<AdmissionLimits>;
  workers: boolean;
  /** Frames in order: tenant, cost (default 1), bytes (default 8). */
  frames: { tenant: string; cost?: number; bytes?: number }[];
  want: (Refusal | 'admitted')[];
}

/**
 * Every rule alone and every pair that can meet: the order of the checks is the policy, so a frame
 * over two limits must be refused for the same one by both transports.
 */
const SCENARIOS: Scenario[] = [
  { name: 'no worker', limits: {}, workers: false, frames: [{ tenant: 'a' }], want: ['no-worker'] },
  {
    name: 'over rate',
    limits: { tenantFramesPerSecond: 1 },
    workers: true,
    frames: [{ tenant: 'a' }, { tenant: 'a' }],
    want: ['admitted', 'over-rate'],
  },
  {
    name: 'over share',
    limits: { tenantMaxQueue: 2 },
    workers: true,
    frames: [{ tenant: 'a' }, { tenant: 'a' }, { tenant: 'a' }],
    want: ['admitted', 'admitted', 'over-share'],
  },
  {
    name: 'backlog full',
    limits: { maxQueue: 2 },
    workers: true,
    frames: [{ tenant: 'a' }, { tenant: 'b' }, { tenant: 'c' }],
    want: ['admitted', 'admitted', 'backlog-full'],
  },
  {
    name: 'bytes full',
    limits: { maxQueueBytes: 100 },
    workers: true,
    frames: [
      { tenant: 'a', bytes: 60 },
      { tenant: 'b', bytes: 60 },
    ],
    want: ['admitted', 'bytes-full'],
  },
  {
    name: 'no worker and over rate',
    limits: { tenantFramesPerSecond: 1 },
    workers: false,
    frames: [{ tenant: 'a' }, { tenant: 'a' }],
    want: ['no-worker', 'no-worker'],
  },
  {
    name: 'over rate and over share',
    limits: { tenantFramesPerSecond: 1, tenantMaxQueue: 1 },
    workers: true,
    frames: [{ tenant: 'a' }, { tenant: 'a' }],
    want: ['admitted', 'over-rate'],
  },
  {
    name: 'over share and backlog full',
    limits: { maxQueue: 2, tenantMaxQueue: 1 },
    workers: true,
    frames: [{ tenant: 'a' }, { tenant: 'b' }, { tenant: 'a' }],
    want: ['admitted', 'admitted', 'over-share'],
  },
  {
    name: 'backlog full and bytes full',
    limits: { maxQueue: 1, maxQueueBytes: 100 },
    workers: true,
    frames: [
      { tenant: 'a', bytes: 60 },
      { tenant: 'b', bytes: 60 },
    ],
    want: ['admitted', 'backlog-full'],
  },
  {
    name: 'over share by cost; a costly frame passes alone',
    limits: { tenantMaxQueue: 4 },
    workers: true,
    frames: [
      { tenant: 'a', cost: 3 },
      { tenant: 'a', cost: 2 },
      { tenant: 'b', cost: 40 },
      { tenant: 'b', cost: 1 },
    ],
    want: ['admitted', 'over-share', 'admitted', 'over-share'],
  },
  {
    name: 'rate charged by cost (at most a full bucket)',
    limits: { tenantFramesPerSecond: 2 },
    workers: true,
    frames: [
      { tenant: 'a', cost: 5 },
      { tenant: 'a', cost: 1 },
    ],
    want: ['admitted', 'over-rate'],
  },
];

let redis: TestRedis;
let admin: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  for (const p of prefixes) await cleanupPrefix(redis.url, p);
  admin.disconnect();
  await redis.stop();
});

async function memoryTransport(limits: AdmissionLimits, workers: boolean): Promise<EdgeTransport> {
  const t = new MemoryTransport(limits);
  if (workers) await t.worker(M).start('w1');
  return t;
}

async function redisTransport(limits: AdmissionLimits, workers: boolean): Promise<EdgeTransport> {
  const prefix = uniquePrefix('admission');
  prefixes.push(prefix);
  if (workers) await admin.zadd(redisKeys(prefix).workers(M), Date.now(), 'w1');
  const t = new RedisEdgeTransport({ target: redis.url, prefix, admission: limits, maxLen: 1000 });
  await t.start('edge-a', () => undefined);
  return t;
}

let seq = 0;
async function outcomes(t: EdgeTransport, s: Scenario): Promise<string[]> {
  const out: string[] = [];
  for (const f of s.frames) {
    const now = Date.now();
    const bytes = f.bytes ?? 8;
    const job: FrameJob = {
      key: `k${++seq}`,
      edgeId: 'edge-a',
      connId: 'c',
      frameId: seq,
      receivedAt: now,
      deadline: now + 5000,
      tenant: f.tenant,
      bytes,
      cost: f.cost ?? 1,
      image: Buffer.alloc(bytes, 7),
      model: M,
    };
    try {
      await t.submit(job);
      out.push('admitted');
    } catch (err) {
      out.push(`${(err as VisionError).code} ${(err as VisionError).message}`);
    }
  }
  await t.close();
  return out;
}

describe('admission: one policy, the same outcome from both transports', () => {
  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const limits = { ...BASE, ...s.limits };
      // The expected outcome as a client sees it: code and the refusal's message.
      const want = s.want.map((w) =>
        w === 'admitted' ? w : `${refusalError(w, 0).code} ${refusalError(w, 0).message}`,
      );
      expect(await outcomes(await memoryTransport(limits, s.workers), s), 'memory').toEqual(want);
      expect(await outcomes(await redisTransport(limits, s.workers), s), 'redis').toEqual(want);
    });
  }

  it('the pure decision refuses in the documented order', () => {
    const state = {
      now: 1000,
      workers: 1,
      bucket: { tokens: 0, at: 1000 },
      mine: 16,
      activeTenants: 1,
      backlog: 64,
      bytes: 1 << 20,
    };
    const frame = { cost: 1, bytes: 8 };
    expect(decideAdmission({ ...state, workers: 0 }, frame, BASE).outcome).toBe('no-worker');
    expect(decideAdmission(state, frame, BASE)).toEqual({ outcome: 'over-rate', retryAfterMs: 4 });
    expect(decideAdmission({ ...state, bucket: undefined }, frame, BASE).outcome).toBe('over-share');
    expect(decideAdmission({ ...state, bucket: undefined, mine: 0 }, frame, BASE).outcome).toBe('backlog-full');
    expect(decideAdmission({ ...state, bucket: undefined, mine: 0, backlog: 0 }, frame, BASE).outcome).toBe(
      'bytes-full',
    );
    expect(decideAdmission({ ...state, bucket: undefined, mine: 0, backlog: 0, bytes: 0 }, frame, BASE)).toEqual({
      outcome: 'admitted',
      tokens: 299,
    });
  });
});
