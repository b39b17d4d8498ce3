import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import Redis from 'ioredis';
import type { FrameJob, FrameOutcomeMessage } from '../src';
import { cleanupPrefix, freePort, startTestRedis, uniquePrefix, type TestRedis, sleep } from '@vision/testing';
import { loadConfig } from '@vision/config';
import {
  admissionFrom,
  RedisConnectionLeases,
  RedisEdgeTransport,
  RedisWorkerTransport,
  redisKeys,
  workerStreamOptions,
  type AdmissionLimits,
  type Delivery,
} from '../src';

const defaults = loadConfig({});
const admissionDefaults = admissionFrom(defaults);
const streamDefaults = workerStreamOptions(defaults);

let redis: TestRedis;
let admin: Redis;
const open: { close(): Promise<void> }[] = [];
const prefixes: string[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  admin = new Redis(redis.url);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await Promise.all(prefixes.splice(0).map((p) => cleanupPrefix(redis.url, p)));
});
afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});

/** Keys under a fresh prefix, with a worker that has reported in (admission refuses frames no worker would take). */
async function setup(admission: Partial<AdmissionLimits> = {}) {
  const prefix = uniquePrefix('transport');
  prefixes.push(prefix);
  await admin.zadd(redisKeys(prefix).workers(M), Date.now(), 'present');
  const edge = () => {
    const t = new RedisEdgeTransport({
      target: redis.url,
      prefix,
      admission: { ...admissionDefaults, ...admission },
      maxLen: 1000,
    });
    open.push(t);
    return t;
  };
  const worker = (o: { claimMinIdleMs?: number; maxDeliveries?: number } = {}) => {
    const t = new RedisWorkerTransport({ target: redis.url, prefix, model: M, ...streamDefaults, ...o });
    open.push(t);
    return t;
  };
  return { prefix, keys: redisKeys(prefix), edge, worker };
}

const M = 'default';
let n = 0;
/** A frame; each from its own tenant unless one is named (so only the limit under test applies). */
function job(
  edgeId: string,
  image = Buffer.from([0xff, 0xd8, 0xff, ++n & 0xff, 0, 1, 2, 255]),
  tenant = `t${n}`,
): FrameJob {
  const now = Date.now();
  return {
    key: `c.${++n}`,
    edgeId,
    connId: 'c',
    frameId: n,
    receivedAt: now,
    deadline: now + 5000,
    tenant,
    bytes: image.length,
    cost: 1,
    image,
    model: M,
  };
}

async function drain(w: RedisWorkerTransport, want: number): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const until = Date.now() + 5000;
  while (got.length < want && Date.now() < until) got.push(...(await w.read(want - got.length, 100)));
  return got;
}

const ok = (d: Delivery): FrameOutcomeMessage => ({
  key: d.job.key,
  connId: d.job.connId,
  ok: true,
  detections: [],
  model: 'm',
  modelVersion: '1',
  batchSize: 1,
  pickedAt: d.pickedAt,
  preprocessMs: 1,
  inferenceMs: 1,
});

describe('Redis transport', () => {
  it('shares frames between workers of one consumer group, each frame exactly once, bytes intact', async () => {
    const s = await setup();
    const w1 = s.worker();
    const w2 = s.worker();
    await w1.start('w1');
    await w2.start('w2');
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    const images = Array.from({ length: 20 }, (_, i) =>
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(1000 + i, i)]),
    );
    const jobs = images.map((img) => job('edge-a', img));
    for (const j of jobs) await e.submit(j);
    const [a, b] = await Promise.all([drain(w1, 10), drain(w2, 10)]);
    const all = [...a, ...b];
    expect(all.map((d) => d.job.key).sort()).toEqual(jobs.map((j) => j.key).sort());
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    for (const d of all) expect(d.job.image.equals(jobs.find((j) => j.key === d.job.key)!.image)).toBe(true);
    expect(await w1.read(10, 50)).toEqual([]);
  });

  it('keeps frames pending until complete() acknowledges them', async () => {
    const s = await setup();
    const w = s.worker();
    await w.start('w1');
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    for (let i = 0; i < 3; i++) await e.submit(job('edge-a'));
    const got = await drain(w, 3);
    const pending = async () => ((await admin.xpending(s.keys.stream(M), s.keys.group)) as [number])[0];
    expect(await pending()).toBe(3);
    await w.complete(got.slice(0, 2).map((d) => ({ delivery: d, outcome: ok(d) })));
    expect(await pending()).toBe(1);
  });

  it('routes each outcome to the edge that owns the frame, and only to it', async () => {
    const s = await setup();
    const w = s.worker();
    await w.start('w1');
    const seen: Record<string, string[]> = { a: [], b: [] };
    const ea = s.edge();
    const eb = s.edge();
    await ea.start('edge-a', (m) => seen['a'].push(m.key));
    await eb.start('edge-b', (m) => seen['b'].push(m.key));
    const ja = [job('edge-a'), job('edge-a')];
    const jb = [job('edge-b')];
    for (const j of ja) await ea.submit(j);
    for (const j of jb) await eb.submit(j);
    const got = await drain(w, 3);
    await w.complete(got.map((d) => ({ delivery: d, outcome: ok(d) })));
    await expect.poll(() => seen['a'].length + seen['b'].length).toBe(3);
    expect(seen['a'].sort()).toEqual(ja.map((j) => j.key).sort());
    expect(seen['b']).toEqual(jb.map((j) => j.key));
  });

  it('refuses frames beyond MAX_QUEUE undelivered ones at once, and accepts again once workers catch up', async () => {
    const s = await setup({ maxQueue: 3 });
    const w = s.worker();
    await w.start('w1');
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    for (let i = 0; i < 3; i++) await e.submit(job('edge-a'));
    await expect(e.submit(job('edge-a'))).rejects.toMatchObject({ code: 'E_OVERLOADED' });
    expect((await e.health([M])).backlog).toBe(3);
    await drain(w, 2);
    await expect(e.submit(job('edge-a'))).resolves.toBeUndefined();
  });

  it('recreates the stream and group after they vanish (Redis restarted without persistence)', async () => {
    const s = await setup();
    const w = s.worker();
    await w.start('w1');
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    await e.submit(job('edge-a'));
    await admin.del(s.keys.stream(M)); // what a restart without persistence leaves
    expect(await w.read(5, 50)).toEqual([]); // NOGROUP → recreated from $
    const fresh = job('edge-a');
    await e.submit(fresh);
    expect((await drain(w, 1)).map((d) => d.job.key)).toEqual([fresh.key]);
  });

  it('reports worker presence and fails fast with E_UNAVAILABLE when Redis is unreachable', async () => {
    const s = await setup();
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    expect((await e.health([M])).workers).toBe(1); // setup's
    const w = s.worker();
    await w.start('w1');
    expect(await e.health([M])).toMatchObject({ reachable: true, workers: 2 });

    const dead = new RedisEdgeTransport({
      target: `redis://127.0.0.1:${await freePort()}`,
      prefix: s.prefix,
      admission: admissionDefaults,
      maxLen: 1000,
    });
    open.push(dead);
    await dead.start('edge-x', () => undefined);
    const t0 = Date.now();
    await expect(dead.submit(job('edge-x'))).rejects.toMatchObject({ code: 'E_UNAVAILABLE' });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await dead.health([M])).reachable).toBe(false);
  });

  it("takes over a dead consumer's frames, counting deliveries; dead-letters past MAX_DELIVERIES", async () => {
    const s = await setup();
    const opts = { claimMinIdleMs: 100, maxDeliveries: 3 };
    const dead = s.worker(opts); // reads, then "dies": never completes
    const alive = s.worker(opts);
    await dead.start('dead');
    await alive.start('alive');
    const outcomes: FrameOutcomeMessage[] = [];
    const e = s.edge();
    await e.start('edge-a', (m) => outcomes.push(m));
    const j = job('edge-a');
    await e.submit(j);
    expect((await drain(dead, 1))[0].deliveryCount).toBe(1);
    await sleep(150);
    const [taken] = await drain(alive, 1);
    expect(taken).toMatchObject({ deliveryCount: 2, job: { key: j.key } });
    expect(taken.job.image.equals(j.image)).toBe(true);
    // The taker dies too, twice more: the fourth delivery exceeds the limit.
    await sleep(150);
    expect((await drain(dead, 1))[0].deliveryCount).toBe(3);
    await sleep(150);
    expect(await alive.read(1, 200)).toEqual([]);
    await expect
      .poll(() => outcomes)
      .toEqual([{ key: j.key, connId: 'c', ok: false, error: expect.objectContaining({ code: 'E_DEAD_LETTER' }) }]);
    expect(await admin.xlen(s.keys.deadLetter)).toBe(1);
    expect(((await admin.xpending(s.keys.stream(M), s.keys.group)) as [number])[0]).toBe(0);
    // Dead letters keep metadata for an operator, never the image; the frame's bytes left the stream.
    const [[, fields]] = await admin.xrange(s.keys.deadLetter, '-', '+');
    expect(fields).not.toContain('img');
    expect(JSON.parse(fields[fields.indexOf('m') + 1])).toMatchObject({
      key: j.key,
      tenant: j.tenant,
      bytes: j.image.length,
    });
    expect(await admin.xlen(s.keys.stream(M))).toBe(0);
    expect(await admin.get(s.keys.bytesWaiting)).toBe('0');
  });

  it('leaves frames of a live consumer alone while they are younger than the idle limit', async () => {
    const s = await setup();
    const w1 = s.worker({ claimMinIdleMs: 5000 });
    const w2 = s.worker({ claimMinIdleMs: 5000 });
    await w1.start('w1');
    await w2.start('w2');
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    await e.submit(job('edge-a'));
    await drain(w1, 1);
    expect(await w2.read(5, 100)).toEqual([]);
  });

  it('removes an answered frame from Redis at once: stream entry, byte budget and tenant share', async () => {
    const s = await setup();
    const w = s.worker();
    await w.start('w1');
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    const jobs = [job('edge-a', undefined, 'cam'), job('edge-a', Buffer.alloc(5000, 0xff), 'cam')];
    for (const j of jobs) await e.submit(j);
    expect(Number(await admin.get(s.keys.bytesWaiting))).toBe(jobs[0].image.length + 5000);
    expect(await admin.zcard(s.keys.tenantOpen('cam'))).toBe(2);
    const got = await drain(w, 2);
    // Taken frames are still open: they count against the share and keep their bytes until answered.
    expect(await admin.zcard(s.keys.tenantOpen('cam'))).toBe(2);
    expect(await admin.xlen(s.keys.stream(M))).toBe(2);
    await w.complete(got.map((d) => ({ delivery: d, outcome: ok(d) })));
    expect(await admin.xlen(s.keys.stream(M))).toBe(0);
    expect(await admin.get(s.keys.bytesWaiting)).toBe('0');
    expect(await admin.zcard(s.keys.tenantOpen('cam'))).toBe(0);
  });

  it('gives each tenant at most its share of the backlog, so another tenant is still admitted', async () => {
    const s = await setup({ maxQueue: 8, tenantMaxQueue: 8 });
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    // Alone, a tenant may fill the whole backlog (8): its share is 8 / 1.
    for (let i = 0; i < 4; i++) await e.submit(job('edge-a', undefined, 'hog'));
    // A second active tenant halves the share to 4: the hog is refused, the camera is not.
    await e.submit(job('edge-a', undefined, 'camera'));
    await expect(e.submit(job('edge-a', undefined, 'hog'))).rejects.toMatchObject({ code: 'E_OVERLOADED' });
    await e.submit(job('edge-a', undefined, 'camera'));
    const capped = await setup({ maxQueue: 64, tenantMaxQueue: 2 });
    const e2 = capped.edge();
    await e2.start('edge-b', () => undefined);
    for (let i = 0; i < 2; i++) await e2.submit(job('edge-b', undefined, 'one'));
    await expect(e2.submit(job('edge-b', undefined, 'one'))).rejects.toMatchObject({ code: 'E_OVERLOADED' });
  });

  it("limits a tenant's frames per second across edges, with retryAfterMs", async () => {
    const s = await setup({ tenantFramesPerSecond: 2 });
    const [ea, eb] = [s.edge(), s.edge()];
    await ea.start('edge-a', () => undefined);
    await eb.start('edge-b', () => undefined);
    await ea.submit(job('edge-a', undefined, 'sub'));
    await eb.submit(job('edge-b', undefined, 'sub'));
    const err = await ea.submit(job('edge-a', undefined, 'sub')).catch((x: unknown) => x);
    expect(err).toMatchObject({ code: 'E_RATE_LIMITED' });
    expect((err as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect((err as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(500);
    await ea.submit(job('edge-a', undefined, 'other')); // another subject is unaffected
  });

  it('bounds the bytes waiting, not only the number of frames', async () => {
    const s = await setup({ maxQueueBytes: 10_000 });
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    await e.submit(job('edge-a', Buffer.alloc(6000, 0xff)));
    await expect(e.submit(job('edge-a', Buffer.alloc(6000, 0xff)))).rejects.toMatchObject({ code: 'E_OVERLOADED' });
    await e.submit(job('edge-a', Buffer.alloc(3000, 0xff)));
  });

  it('refuses frames at once when no worker has reported in, and reports backlog and pending frames', async () => {
    const s = await setup();
    await admin.zrem(s.keys.workers(M), 'present');
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    await expect(e.submit(job('edge-a'))).rejects.toMatchObject({ code: 'E_UNAVAILABLE' });
    expect(await e.health([M])).toEqual({ reachable: true, workers: 0, backlog: 0, pending: 0 });
    const w = s.worker();
    await w.start('w1');
    for (let i = 0; i < 3; i++) await e.submit(job('edge-a'));
    expect(await drain(w, 1)).toHaveLength(1);
    expect(await w.health()).toEqual({ reachable: true, workers: 1, backlog: 2, pending: 1 });
    // A worker whose heartbeat lapsed no longer counts.
    await w.close();
    await admin.zadd(s.keys.workers(M), Date.now() - 60_000, 'w1');
    await expect(e.submit(job('edge-a'))).rejects.toMatchObject({ code: 'E_UNAVAILABLE' });
  });

  it('refuses to start against a Redis older than 7 (no group lag: MAX_QUEUE would not hold)', async () => {
    // A server that speaks just enough RESP to pass for Redis 6.2: INFO tells the version, the rest is +OK.
    const fake: Server = createServer((sock) => {
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        // Commands arrive as RESP arrays of bulk strings, several per packet: answer each in turn.
        for (;;) {
          const m = /^\*(\d+)\r\n/.exec(buf);
          if (!m) return;
          let at = m[0].length;
          const parts: string[] = [];
          for (let i = 0; i < Number(m[1]); i++) {
            const b = /^\$(\d+)\r\n/.exec(buf.slice(at));
            if (!b || buf.length < at + b[0].length + Number(b[1]) + 2) return;
            parts.push(buf.slice(at + b[0].length, at + b[0].length + Number(b[1])));
            at += b[0].length + Number(b[1]) + 2;
          }
          buf = buf.slice(at);
          const info = 'redis_version:6.2.14\r\nloading:0\r\n';
          sock.write(/^info$/i.test(parts[0]) ? `$${info.length}\r\n${info}\r\n` : '+OK\r\n');
        }
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const url = `redis://127.0.0.1:${(fake.address() as { port: number }).port}`;
      const e = new RedisEdgeTransport({ target: url, prefix: 'old', admission: admissionDefaults, maxLen: 1000 });
      const w = new RedisWorkerTransport({ target: url, prefix: 'old', model: M, ...streamDefaults });
      open.push(e, w);
      await expect(e.start('edge-a', () => undefined)).rejects.toMatchObject({
        code: 'E_CONFIG',
        message: expect.stringMatching(/Redis 7 or newer.*6\.2\.14/),
      });
      await expect(w.start('w1')).rejects.toMatchObject({ code: 'E_CONFIG' });
    } finally {
      fake.close();
    }
  });

  it('keeps each model on its own stream and reports what its workers announced', async () => {
    const s = await setup();
    const e = s.edge();
    await e.start('edge-a', () => undefined);
    const other = new RedisWorkerTransport({
      target: redis.url,
      prefix: s.prefix,
      model: 'helmets',
      ...streamDefaults,
    });
    open.push(other);
    await expect(e.submit({ ...job('edge-a'), model: 'helmets' })).rejects.toMatchObject({ code: 'E_UNAVAILABLE' });
    await other.start('h1');
    await other.announce({
      id: 'helmets',
      version: '2',
      classes: ['helmet', 'vest'],
      inputShape: [-1, 3, 640, 640],
      layout: 'v8',
      provider: 'cpu',
    });
    await e.submit({ ...job('edge-a'), model: 'helmets' });
    await e.submit(job('edge-a'));
    expect(await admin.xlen(s.keys.stream('helmets'))).toBe(1);
    expect(await admin.xlen(s.keys.stream(M))).toBe(1);
    const models = await e.models([M, 'helmets']);
    expect(models['helmets']).toMatchObject({
      workers: 1,
      backlog: 1,
      announced: { version: '2', classes: ['helmet', 'vest'] },
    });
    expect(models[M]).toMatchObject({ workers: 1, backlog: 1, announced: undefined });
    expect(await drain(other, 1)).toEqual([
      expect.objectContaining({ job: expect.objectContaining({ model: 'helmets' }) }),
    ]);
  });

  it('shares connection slots per address and per subject across edges, and frees them on release', async () => {
    const s = await setup();
    const [a, b] = [
      new RedisConnectionLeases({ target: redis.url, prefix: s.prefix }),
      new RedisConnectionLeases({ target: redis.url, prefix: s.prefix }),
    ];
    open.push(a, b);
    const limits = { perIp: 2, perSubject: 3 };
    const l1 = { connId: 'a1', ip: '10.0.0.1', subject: 'sub:x' };
    expect(await a.acquire(l1, limits)).toBe('ok');
    expect(await b.acquire({ connId: 'b1', ip: '10.0.0.1', subject: 'sub:x' }, limits)).toBe('ok');
    expect(await a.acquire({ connId: 'a2', ip: '10.0.0.1', subject: 'sub:y' }, limits)).toBe('ip');
    expect(await b.acquire({ connId: 'b2', ip: '10.0.0.2', subject: 'sub:x' }, limits)).toBe('ok');
    expect(await b.acquire({ connId: 'b3', ip: '10.0.0.3', subject: 'sub:x' }, limits)).toBe('subject');
    await a.release(l1);
    expect(await b.acquire({ connId: 'b4', ip: '10.0.0.1', subject: 'sub:z' }, limits)).toBe('ok');
  });

  it("counts a camera gateway's connections (no address) against its subject only", async () => {
    const s = await setup();
    const leases = new RedisConnectionLeases({ target: redis.url, prefix: s.prefix });
    open.push(leases);
    const limits = { perIp: 2, perSubject: 3 };
    const gateway = (connId: string) => ({ connId, ip: undefined, subject: 'sub:gateway-0' });
    for (const id of ['g1', 'g2', 'g3']) expect(await leases.acquire(gateway(id), limits)).toBe('ok');
    expect(await leases.acquire(gateway('g4'), limits)).toBe('subject');
    // The gateway's address still has both of its slots for anyone else.
    for (const id of ['u1', 'u2'])
      expect(await leases.acquire({ connId: id, ip: '10.0.0.9', subject: 'sub:u' }, limits)).toBe('ok');
    expect(await leases.acquire({ connId: 'u3', ip: '10.0.0.9', subject: 'sub:v' }, limits)).toBe('ip');
    await leases.release(gateway('g1'));
    expect(await leases.acquire(gateway('g5'), limits)).toBe('ok');
  });
});
