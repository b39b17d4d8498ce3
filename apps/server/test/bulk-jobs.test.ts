import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { pack } from 'tar-stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bulkKeys, type JobStatus } from '@vision/bulk';
import { verifyWebhook } from '@vision/webhooks';
import {
  COLORS,
  drawScene,
  modelsDir,
  signTestToken,
  startRedisSite,
  startWebhookReceiver,
  TEST_JWT_SECRET,
  uniquePrefix,
  type RedisSite,
  type ServiceProcess,
  sleep,
} from '@vision/testing';

const WEBHOOK_SECRET = 'webhook-secret-0123456789abcdef0123456789';
const names = ['red', 'green', 'blue'];
const colors = [COLORS.red, COLORS.green, COLORS.blue];

/** Image i: a square of colour i % 3 on one cell of a 640×480 JPEG. */
const imageFor = (i: number) =>
  drawScene({
    width: 640,
    height: 480,
    format: 'jpeg',
    rects: [{ x: 32 * (i % 16), y: 176, w: 32, h: 32, color: colors[i % 3] }],
  });

/**
 * Bulk jobs through real processes: an edge takes uploads, workers run the images on BullMQ jobs
 * with idle capacity and record each result once; images live in Redis only until the job ends.
 */
describe('bulk jobs', () => {
  let site: RedisSite;
  let admin: Redis;
  let dir: string;
  let edge: ServiceProcess;
  let auth: { authorization: string };
  const workers: ServiceProcess[] = [];
  let keys: ReturnType<typeof bulkKeys>;

  const startWorker = async (env: Record<string, string> = {}) => {
    const w = await site.start('worker', env);
    workers.push(w);
    return w;
  };
  const url = (path: string) => `http://127.0.0.1:${edge.port}${path}`;
  const upload = async (images: Buffer[], query = '') => {
    const form = new FormData();
    images.forEach((b, i) =>
      form.append('image', new Blob([new Uint8Array(b)], { type: 'image/jpeg' }), `img-${i}.jpg`),
    );
    return fetch(url(`/v1/jobs${query}`), { method: 'POST', headers: auth, body: form });
  };
  /** A POST that reads the answer even when the server refuses before the body is sent (fetch reports EPIPE then). */
  const postEarly = (path: string, headers: Record<string, string>, body: Buffer, port = edge.port) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `http://127.0.0.1:${port}${path}`,
        { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err),
      );
      req.end(body);
    });
  /** `upload` for requests the edge refuses early. */
  const uploadEarly = async (images: Buffer[], query = '') => {
    const form = new FormData();
    images.forEach((b, i) => form.append('image', new Blob([new Uint8Array(b)]), `${i}.jpg`));
    const encoded = new Response(form);
    const r = await postEarly(
      `/v1/jobs${query}`,
      { ...auth, 'content-type': encoded.headers.get('content-type')! },
      Buffer.from(await encoded.arrayBuffer()),
    );
    return { status: r.status, code: (JSON.parse(r.body) as { error?: { code: string } }).error?.code };
  };
  const status = async (id: string, q = '') =>
    (await (await fetch(url(`/v1/jobs/${id}${q}`), { headers: auth })).json()) as JobStatus;
  const settled = async (id: string, timeoutMs = 30_000) => {
    let s = await status(id);
    const until = Date.now() + timeoutMs;
    while (!['completed', 'cancelled', 'failed'].includes(s.state) && Date.now() < until) {
      await sleep(200);
      s = await status(id);
    }
    return s;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vision-bulk-'));
    const repo = join(dir, 'models.json');
    writeFileSync(
      repo,
      JSON.stringify({
        models: [
          { id: 'colors', path: join(modelsDir(), 'colors-v8-dyn.onnx') },
          { id: 'topology', path: join(modelsDir(), 'yolov8n-topology-320.onnx') },
        ],
      }),
    );
    site = await startRedisSite('bulk', {
      env: {
        MODELS_FILE: repo,
        BULK_WEBHOOK_SECRET: WEBHOOK_SECRET,
        // Edges check it at submission, workers when they connect: the receiver is on loopback.
        BULK_WEBHOOK_HOSTS: '127.0.0.1',
        BULK_LOCK_MS: '2000',
        BULK_MAX_IMAGES: '300',
        BULK_MAX_UPLOAD_BYTES: String(8 * 1024 * 1024),
      },
    });
    admin = new Redis(site.redis.url);
    keys = bulkKeys(site.prefix);
    edge = await site.start('edge', {
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
    });
    auth = { authorization: `Bearer ${await signTestToken({ sub: 'archive' })}` };
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill('SIGKILL')));
  });

  afterAll(async () => {
    admin.disconnect();
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a job to the end: progress, paged results, and no image left in Redis', async () => {
    await startWorker();
    const images = await Promise.all(Array.from({ length: 12 }, (_, i) => imageFor(i)));
    const r = await upload(images);
    expect(r.status).toBe(202);
    const { id, total, model } = (await r.json()) as { id: string; total: number; model: string };
    expect({ total, model }).toEqual({ total: 12, model: 'colors' });
    expect(r.headers.get('location')).toBe(`/v1/jobs/${id}`);
    const done = await settled(id);
    expect(done).toMatchObject({ state: 'completed', progress: { total: 12, done: 12, failed: 0 } });
    const page = await status(id, '?offset=10&limit=5');
    expect(page.results.map((x) => x.index)).toEqual([10, 11]);
    expect(page.next).toBeUndefined();
    const first = await status(id, '?offset=0&limit=10');
    expect(first.next).toBe(10);
    for (const x of first.results)
      expect('detections' in x && x.detections.map((d) => d.name)).toEqual([names[x.index % 3]]);
    expect(await admin.exists(keys.images(id))).toBe(0);
    expect(Number(await admin.get(keys.storedBytes))).toBe(0);
    // Another tenant does not see it.
    const other = { authorization: `Bearer ${await signTestToken({ sub: 'someone-else' })}` };
    expect((await fetch(url(`/v1/jobs/${id}`), { headers: other })).status).toBe(404);
  });

  it('takes a tar archive (hidden files skipped)', async () => {
    await startWorker();
    const tar = pack();
    for (let i = 0; i < 3; i++) tar.entry({ name: `cam/${i}.jpg` }, await imageFor(i));
    tar.entry({ name: 'cam/.DS_Store' }, Buffer.from('junk'));
    tar.finalize();
    const chunks: Buffer[] = [];
    for await (const c of tar) chunks.push(c as Buffer);
    const r = await fetch(url('/v1/jobs'), {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-tar' },
      body: new Uint8Array(Buffer.concat(chunks)),
    });
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    expect(await settled(id)).toMatchObject({ state: 'completed', progress: { total: 3, done: 3 } });
  });

  it('cancels a job: it never runs, and its images leave Redis at once', async () => {
    const w = await startWorker();
    w.proc.kill('SIGSTOP');
    try {
      const r = await upload(await Promise.all(Array.from({ length: 20 }, (_, i) => imageFor(i))));
      const { id } = (await r.json()) as { id: string };
      expect(await admin.exists(keys.images(id))).toBe(1);
      const d = await fetch(url(`/v1/jobs/${id}`), { method: 'DELETE', headers: auth });
      expect(await d.json()).toMatchObject({ state: 'cancelled' });
      expect(await admin.exists(keys.images(id))).toBe(0);
      expect(Number(await admin.get(keys.storedBytes))).toBe(0);
      w.proc.kill('SIGCONT');
      await new Promise((r2) => setTimeout(r2, 1500));
      expect(await status(id)).toMatchObject({ state: 'cancelled', progress: { done: 0 } });
    } finally {
      w.proc.kill('SIGCONT');
    }
  });

  it('survives a worker killed mid-job: another takes it over, and every image has exactly one result', async () => {
    const images = await Promise.all(Array.from({ length: 160 }, (_, i) => imageFor(i)));
    const first = await startWorker();
    const r = await upload(images, '?model=topology');
    const { id } = (await r.json()) as { id: string };
    await expect
      .poll(async () => (await status(id)).progress.done, { timeout: 20_000, interval: 50 })
      .toBeGreaterThan(10);
    await first.kill('SIGKILL');
    const before = (await status(id)).progress.done;
    expect(before).toBeLessThan(160);
    await startWorker();
    const done = await settled(id, 60_000);
    expect(done).toMatchObject({ state: 'completed', progress: { total: 160, done: 160, failed: 0 } });
    expect(await admin.hlen(keys.results(id))).toBe(160);
    expect(await admin.exists(keys.images(id))).toBe(0);
  });

  it('delivers a signed webhook, retried with backoff until the receiver answers', async () => {
    await startWorker();
    const hook = await startWebhookReceiver({ status: (n) => (n < 3 ? 500 : 204) });
    const got = hook.received;
    try {
      const r = await upload([await imageFor(0), await imageFor(1)], `?webhook=${encodeURIComponent(hook.url)}`);
      const { id } = (await r.json()) as { id: string };
      await expect.poll(() => got.length, { timeout: 20_000 }).toBe(3);
      // Exponential backoff: 1 s, then 2 s.
      expect(got[1].at - got[0].at).toBeGreaterThanOrEqual(900);
      expect(got[2].at - got[1].at).toBeGreaterThanOrEqual(1800);
      for (const g of got) expect(verifyWebhook(WEBHOOK_SECRET, g.body, g.signature)).toBe(true);
      expect(verifyWebhook('another-secret-0123456789abcdef0123', got[2].body, got[2].signature)).toBe(false);
      expect(JSON.parse(got[2].body)).toMatchObject({
        type: 'job.finished',
        job: { id, state: 'completed', progress: { total: 2, done: 2 } },
      });
    } finally {
      await hook.close();
    }
  });

  it('signs with both secrets in a rotation: receivers knowing only the new or only the old one verify', async () => {
    const newSecret = 'rotated-webhook-secret-0123456789abcdef';
    await startWorker({ BULK_WEBHOOK_SECRET: newSecret, BULK_WEBHOOK_SECRET_PREVIOUS: WEBHOOK_SECRET });
    const hook = await startWebhookReceiver();
    const got = hook.received;
    try {
      await upload([await imageFor(0)], `?webhook=${encodeURIComponent(hook.url)}`);
      await expect.poll(() => got.length, { timeout: 20_000 }).toBe(1);
      const [{ body, signature }] = got;
      expect(verifyWebhook(newSecret, body, signature)).toBe(true);
      expect(verifyWebhook(WEBHOOK_SECRET, body, signature)).toBe(true);
      expect(verifyWebhook('another-secret-0123456789abcdef0123', body, signature)).toBe(false);
    } finally {
      await hook.close();
    }
  });

  it('refuses oversize uploads, too many images, foreign webhook hosts, unknown models; leaves nothing', async () => {
    const r1 = await postEarly(
      '/v1/jobs',
      { ...auth, 'content-type': 'application/x-tar' },
      Buffer.alloc(9 * 1024 * 1024),
    );
    expect(r1.status).toBe(413);
    expect(JSON.parse(r1.body)).toMatchObject({ error: { code: 'E_UPLOAD_TOO_LARGE' } });
    const small = await imageFor(0);
    expect(await uploadEarly(Array.from({ length: 301 }, () => small))).toEqual({
      status: 413,
      code: 'E_UPLOAD_TOO_LARGE',
    });
    expect(await uploadEarly([small], `?webhook=${encodeURIComponent('http://169.254.169.254/latest')}`)).toEqual({
      status: 403,
      code: 'E_WEBHOOK_FORBIDDEN',
    });
    expect(await uploadEarly([small], '?model=nope')).toEqual({ status: 404, code: 'E_UNKNOWN_MODEL' });
    const notImage = await postEarly('/v1/jobs', { ...auth, 'content-type': 'text/plain' }, Buffer.from('hello'));
    expect(notImage.status).toBe(415);
    expect(Number(await admin.get(keys.storedBytes))).toBe(0);
    expect(await admin.zcard(keys.tenantJobs('sub:archive'))).toBe(0);
    expect((await postEarly('/v1/jobs', {}, Buffer.from('x'))).status).toBe(401);
  });

  it('bounds tar and chunked uploads, empty uploads, jobs per subject and stored bytes', async () => {
    const small = await imageFor(1);
    const tar = async (entries: { name: string; body: Buffer }[]) => {
      const p = pack();
      for (const e of entries) p.entry({ name: e.name, size: e.body.length }, e.body);
      p.finalize();
      const chunks: Buffer[] = [];
      for await (const c of p) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    const answer = (r: { status: number; body: string }) => ({
      status: r.status,
      code: (JSON.parse(r.body) as { error?: { code: string } }).error?.code,
    });
    const asTar = { ...auth, 'content-type': 'application/x-tar' };
    // An entry over MAX_FRAME_BYTES (8 MiB by default) inside an upload that is within its own limit.
    const big = await tar([{ name: 'huge.jpg', body: Buffer.concat([small, Buffer.alloc(8 * 1024 * 1024 + 1)]) }]);
    expect(answer(await postEarly('/v1/jobs', asTar, big.subarray(0, 7 * 1024 * 1024)))).toEqual({
      status: 413,
      code: 'E_FRAME_TOO_LARGE',
    });
    expect(
      answer(
        await postEarly(
          '/v1/jobs',
          asTar,
          await tar([
            { name: 'a.jpg', body: small },
            { name: 'b.jpg', body: Buffer.alloc(200) },
          ]),
        ),
      ),
    ).toEqual({ status: 415, code: 'E_UNSUPPORTED_FORMAT' });
    expect(
      answer(
        await postEarly(
          '/v1/jobs',
          asTar,
          await tar(Array.from({ length: 301 }, (_, i) => ({ name: `${i}.jpg`, body: small }))),
        ),
      ),
    ).toEqual({ status: 413, code: 'E_UPLOAD_TOO_LARGE' });
    expect(answer(await postEarly('/v1/jobs', asTar, Buffer.alloc(4096, 0x41)))).toEqual({
      status: 400,
      code: 'E_BAD_REQUEST',
    });
    expect(answer(await postEarly('/v1/jobs', asTar, await tar([])))).toEqual({ status: 400, code: 'E_EMPTY_FRAME' });
    // A chunked body (no declared length) is cut off once it passes BULK_MAX_UPLOAD_BYTES.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        url('/v1/jobs'),
        { method: 'POST', headers: { ...asTar, 'transfer-encoding': 'chunked' } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err),
      );
      const piece = Buffer.alloc(256 * 1024);
      let sent = 0;
      const more = () => {
        while (sent < 12 * 1024 * 1024 && !req.destroyed) {
          sent += piece.length;
          if (!req.write(piece)) return void req.once('drain', more);
        }
        req.end();
      };
      more();
    });
    expect(answer(chunked)).toEqual({ status: 413, code: 'E_UPLOAD_TOO_LARGE' });
    expect(Number(await admin.get(keys.storedBytes))).toBe(0);

    // Jobs per subject and the image store's budget, on an edge of its own (no worker: jobs stay queued).
    const limited = await site.start('edge', {
      REDIS_PREFIX: uniquePrefix('bulk-limits'),
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
      BULK_MAX_JOBS_PER_TENANT: '1',
      BULK_MAX_STORED_BYTES: String(1024 * 1024),
    });
    try {
      const at = (path: string, headers: Record<string, string>, body: Buffer) =>
        postEarly(path, headers, body, limited.port);
      const one = await tar([{ name: 'a.jpg', body: small }]);
      expect((await at('/v1/jobs', asTar, one)).status).toBe(202);
      expect(answer(await at('/v1/jobs', asTar, one))).toEqual({ status: 429, code: 'E_JOB_LIMIT' });
      const other = {
        authorization: `Bearer ${await signTestToken({ sub: 'second' })}`,
        'content-type': 'application/x-tar',
      };
      expect(
        answer(
          await at(
            '/v1/jobs',
            other,
            await tar([{ name: 'b.jpg', body: Buffer.concat([small, Buffer.alloc(1024 * 1024)]) }]),
          ),
        ),
      ).toEqual({ status: 429, code: 'E_JOB_LIMIT' });
    } finally {
      await limited.kill('SIGKILL');
    }
  });
});
