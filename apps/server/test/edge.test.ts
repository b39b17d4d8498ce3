import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig, type Env } from '@vision/config';
import { createLogger } from '@vision/runtime';
import { VisionMetrics } from '@vision/metrics';
import { encodeFrame, ERROR_CODES, PROTOCOL_V1, type ErrorCode } from '@vision/wire';
import { admissionFrom, MemoryTransport, RedisEdgeTransport } from '@vision/transport';
import { startWorkerRuntime, type WorkerRuntime } from '@vision/worker';
import { COLORS, drawScene, freePort, modelsDir, TestClient, tryUpgrade, sleep } from '@vision/testing';
import { startEdgeRuntime, type EdgeRuntime } from '@vision/edge';
import { BulkJobs } from '@vision/bulk';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

/**
 * An edge in this process, over the in-memory queue, with a real worker behind it, or (`worker:
 * false`) one that reported in and never reads, so frames wait.
 */
async function edgeWith(env: Env, opts: { worker?: boolean; silentWorker?: boolean; bulk?: BulkJobs } = {}) {
  const config = loadConfig({
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    AUTH_DISABLED: 'true',
    MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
    // As the service harness does: the fit would add its seconds to every worker start (host-fit.test covers it).
    HOST_FIT: 'false',
    ...env,
  });
  const log = createLogger(config, 'test');
  const metrics = new VisionMetrics({ defaultMetrics: false });
  const transport = new MemoryTransport(admissionFrom(config));
  let worker: WorkerRuntime | undefined;
  if (opts.worker !== false)
    worker = await startWorkerRuntime(config, log, { transportFor: (id) => transport.worker(id), metrics });
  else if (opts.silentWorker !== false) await transport.worker('default').start('silent-worker');
  const edge: EdgeRuntime = await startEdgeRuntime({
    config,
    log,
    metrics,
    transport,
    ...(opts.bulk ? { bulk: opts.bulk } : {}),
  });
  stops.push(async () => {
    await edge.stop();
    await worker?.stop();
  });
  const url = `ws://127.0.0.1:${edge.port}/ws/detect`;
  return {
    edge,
    url,
    http: `http://127.0.0.1:${edge.port}`,
    metricsUrl: `http://127.0.0.1:${edge.metricsPort}/metrics`,
    config,
    log,
    metrics,
    transport,
  };
}

const square = () =>
  drawScene({ width: 1280, height: 720, format: 'jpeg', rects: [{ x: 640, y: 232, w: 64, h: 64, color: COLORS.red }] });

describe('edge: seed-compatible protocol', () => {
  it('answers a binary JPEG with a JSON array of boxes in original pixels', async () => {
    const { url } = await edgeWith({});
    const c = new TestClient(url);
    await c.opened;
    c.send(await square());
    const [reply] = (await c.waitFor(1)) as [Array<Record<string, number | string>>];
    expect(Array.isArray(reply)).toBe(true);
    expect(reply).toHaveLength(1);
    expect(reply[0]).toMatchObject({ class: 0, name: 'red' });
    expect([reply[0].xmin, reply[0].ymin, reply[0].xmax, reply[0].ymax]).toEqual([640, 232, 704, 296]);
    c.close();
  });

  it('answers bad input with an error object and keeps the connection and later frames working', async () => {
    const { url } = await edgeWith({ MAX_FRAME_BYTES: '4096' });
    const c = new TestClient(url);
    await c.opened;
    c.send('hello');
    c.send(Buffer.from('not an image at all'));
    c.send(Buffer.alloc(0));
    c.send(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(4096)]));
    c.send(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(100, 3)])); // JPEG magic, undecodable
    const codes = ((await c.waitFor(5)) as { error: { code: string } }[]).map((m) => m.error.code);
    expect(codes.slice(0, 4)).toEqual(['E_BAD_MESSAGE', 'E_UNSUPPORTED_FORMAT', 'E_EMPTY_FRAME', 'E_FRAME_TOO_LARGE']);
    expect(codes[4]).toBe('E_IMAGE_DECODE');
    c.send(await drawScene({ width: 64, height: 64, format: 'png' }));
    expect((await c.waitFor(6))[5]).toEqual([]);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    // Beyond the limit plus the largest frame header the socket itself refuses the message.
    c.send(Buffer.alloc(4096 + 512, 1));
    expect(await c.closed).toBe(1009);
  });
});

describe('edge: yolo.v1', () => {
  it('greets, echoes frame ids and stream ids, reports batch size and timings, answers control messages', async () => {
    const { url } = await edgeWith({});
    const c = new TestClient(url, PROTOCOL_V1);
    await c.opened;
    expect(c.ws.protocol).toBe(PROTOCOL_V1);
    const [hello] = (await c.waitFor(1)) as [Record<string, unknown>];
    expect(hello).toMatchObject({ type: 'hello', protocol: 'yolo.v1', limits: { maxInFlight: 2 } });
    const captureTs = Date.now() - 5;
    c.send(encodeFrame({ frameId: 4242, streamId: 'gate-3', captureTs }, await square()));
    c.send(JSON.stringify({ type: 'ping', ts: 7 }));
    const msgs = (await c.waitFor(3)) as Record<string, unknown>[];
    const result = msgs.find((m) => m['type'] === 'result')!;
    expect(result).toMatchObject({
      frameId: 4242,
      streamId: 'gate-3',
      captureTs,
      model: 'default',
      modelVersion: '1',
      batchSize: 1,
    });
    expect((result['detections'] as unknown[]).length).toBe(1);
    const t = result['timings'] as Record<string, number>;
    for (const k of ['queueMs', 'preprocessMs', 'inferenceMs', 'totalMs']) expect(t[k]).toBeGreaterThanOrEqual(0);
    expect(t['totalMs']).toBeGreaterThanOrEqual(t['inferenceMs']);
    expect(msgs).toContainEqual({ type: 'pong', ts: 7 });
  });

  it('accepts headerless images; answers a broken header or unknown control message with a typed error', async () => {
    const { url } = await edgeWith({});
    const c = new TestClient(url, PROTOCOL_V1);
    await c.waitFor(1);
    c.send(Buffer.from([1, 0, 0, 200, 0, 0, 0, 1])); // version 1, truncated header
    c.send(JSON.stringify({ type: 'subscribe' }));
    c.send(await square());
    const msgs = (await c.waitFor(4)).slice(1) as Record<string, unknown>[];
    expect(msgs).toContainEqual(
      expect.objectContaining({ type: 'error', error: expect.objectContaining({ code: 'E_BAD_HEADER' }) }),
    );
    expect(msgs).toContainEqual(
      expect.objectContaining({ type: 'error', error: expect.objectContaining({ code: 'E_BAD_MESSAGE' }) }),
    );
    expect(msgs).toContainEqual(expect.objectContaining({ type: 'result', frameId: 1 }));
  });

  it('bounds frames in flight: latest frame wins, every frame gets exactly one terminal reply', async () => {
    // No worker: nothing is ever answered downstream, so the edge's own deadline logic must answer.
    const { url } = await edgeWith({ FRAME_DEADLINE_MS: '300', RESULT_MARGIN_MS: '100' }, { worker: false });
    const c = new TestClient(url, PROTOCOL_V1);
    await c.waitFor(1);
    const img = await square();
    for (let id = 1; id <= 5; id++) c.send(encodeFrame({ frameId: id }, img));
    const replies = (await c.waitFor(6, 5000)).slice(1) as { frameId: number; error: { code: string } }[];
    const byFrame = Object.fromEntries(replies.map((r) => [r.frameId, r.error.code]));
    // 1 and 2 were submitted (in flight) and time out; 3 and 4 were replaced while waiting; 5 waited
    // past its deadline, so it is expired rather than submitted late.
    expect(byFrame).toEqual({ 1: 'E_TIMEOUT', 2: 'E_TIMEOUT', 3: 'E_DROPPED', 4: 'E_DROPPED', 5: 'E_EXPIRED' });
    await sleep(500);
    expect(c.messages).toHaveLength(6);
  });

  it('refuses frames beyond MAX_QUEUE at once with E_OVERLOADED', async () => {
    const { url } = await edgeWith(
      { MAX_QUEUE: '1', MAX_IN_FLIGHT: '4', STREAM_MAXLEN: '10', FRAME_DEADLINE_MS: '300', RESULT_MARGIN_MS: '50' },
      { worker: false },
    );
    const c = new TestClient(url, PROTOCOL_V1);
    await c.waitFor(1);
    const img = await square();
    c.send(encodeFrame({ frameId: 1 }, img));
    c.send(encodeFrame({ frameId: 2 }, img));
    const [reply] = (await c.waitFor(2, 1000)).slice(1) as { frameId: number; error: { code: string } }[];
    expect(reply).toMatchObject({ frameId: 2, error: { code: 'E_OVERLOADED' } });
  });
});

describe('edge: health and lifecycle', () => {
  it('stays ready without workers, says so beside readiness, and answers frames E_UNAVAILABLE at once', async () => {
    const lonely = await edgeWith({}, { worker: false, silentWorker: false });
    const r1 = await fetch(`${lonely.http}/readyz`);
    expect(r1.status).toBe(200);
    expect(await r1.json()).toEqual({ ready: true, checks: { queue: true, accepting: true }, workers: false });
    const c = new TestClient(lonely.url, PROTOCOL_V1);
    await c.waitFor(1);
    const t0 = Date.now();
    c.send(encodeFrame({ frameId: 1 }, await square()));
    const [reply] = (await c.waitFor(2, 1000)).slice(1);
    expect(reply).toMatchObject({ type: 'error', frameId: 1, error: { code: 'E_UNAVAILABLE' } });
    expect(Date.now() - t0).toBeLessThan(lonely.config.frames.deadlineMs / 4);
    const full = await edgeWith({ METRICS_PORT: String(await freePort()) });
    expect(await (await fetch(`${full.http}/readyz`)).json()).toMatchObject({ ready: true, workers: true });
    expect((await fetch(`${full.http}/readyz`)).status).toBe(200);
    expect((await fetch(`${full.http}/healthz`)).status).toBe(200);
    // Metrics describe the host: only on their own port, never the public one.
    expect(await (await fetch(full.metricsUrl)).text()).toContain('vision_edge_connections');
    expect((await fetch(`${full.http}/metrics`)).status).toBe(404);
  });

  it('answers bulk-job requests 503 E_UNAVAILABLE at once without Redis or its job store', async () => {
    const embedded = await edgeWith({});
    const r1 = await fetch(`${embedded.http}/v1/jobs/anything`);
    expect(r1.status).toBe(503);
    expect(await r1.json()).toMatchObject({ error: { code: 'E_UNAVAILABLE' } });
    const dead = new BulkJobs(`redis://127.0.0.1:${await freePort()}`, 'dead', embedded.config.bulk);
    stops.push(() => dead.close());
    const cut = await edgeWith({}, { bulk: dead });
    const t0 = Date.now();
    const r2 = await fetch(`${cut.http}/v1/jobs/anything`);
    expect(r2.status).toBe(503);
    expect(await r2.json()).toMatchObject({ error: { code: 'E_UNAVAILABLE' } });
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  it('drains on stop: open frames finish, sockets close with 1001, new connections are refused', async () => {
    const { url, edge, config, log, metrics, transport } = await edgeWith({}, { worker: false });
    const c = new TestClient(url, PROTOCOL_V1);
    await c.waitFor(1);
    c.send(encodeFrame({ frameId: 9 }, await square()));
    await expect.poll(() => edge.edge.ledger.size).toBe(1);
    const stopping = edge.stop();
    // The frame is still open when draining starts; a worker arriving now completes it within the grace period.
    const worker = await startWorkerRuntime(config, log, { transportFor: (id) => transport.worker(id), metrics });
    stops.push(() => worker.stop());
    expect(await c.closed).toBe(1001);
    expect(c.messages).toContainEqual(expect.objectContaining({ type: 'result', frameId: 9 }));
    const late = new WebSocket(url);
    await expect(
      new Promise((resolve, reject) => (late.once('open', resolve), late.once('error', reject))),
    ).rejects.toThrow();
    await stopping;
  });

  it('terminates peers that stop answering pings', async () => {
    const { url } = await edgeWith({ PING_INTERVAL_MS: '150' });
    const mute = new WebSocket(url, { autoPong: false });
    const code = await new Promise((resolve) => mute.once('close', resolve));
    expect(code).toBe(1006);
  });
});

describe('edge: POST /v1/detect', () => {
  it('answers raw and base64-JSON bodies with the same boxes as the WebSocket path', async () => {
    const { http } = await edgeWith({ MAX_FRAME_BYTES: '200000' });
    const jpeg = await square();
    const raw = await fetch(`${http}/v1/detect`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: jpeg,
    });
    expect(raw.status).toBe(200);
    expect(Number(raw.headers.get('x-batch-size'))).toBeGreaterThanOrEqual(1);
    const rawBoxes = (await raw.json()) as { xmin: number; ymin: number; xmax: number; ymax: number; name: string }[];
    expect(rawBoxes.map((d) => [d.name, d.xmin, d.ymin, d.xmax, d.ymax])).toEqual([['red', 640, 232, 704, 296]]);
    const b64 = await fetch(`${http}/v1/detect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: jpeg.toString('base64') }),
    });
    expect(await b64.json()).toEqual(rawBoxes);
  });

  it('answers many concurrent requests on kept-alive sockets (the read limit pauses, never stalls)', async () => {
    const { http: base } = await edgeWith({ MAX_FRAME_BYTES: '200000', SUBJECT_BYTES_PER_SECOND: String(1024 * 1024) });
    const body = JSON.stringify({ image: (await square()).toString('base64') });
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const statuses = await Promise.all(
      Array.from(
        { length: 24 },
        () =>
          new Promise<number>((resolve, reject) => {
            const req = request(
              `${base}/v1/detect`,
              { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
              (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode ?? 0));
              },
            );
            req.on('error', reject);
            req.end(body);
          }),
      ),
    );
    agent.destroy();
    // Paused bodies still arrive: every request is answered, and refusals (a full share) are the exception.
    expect(statuses).toHaveLength(24);
    expect(statuses.every((c) => c === 200 || c === 429)).toBe(true);
    expect(statuses.filter((c) => c === 200).length).toBeGreaterThanOrEqual(20);
  });

  it('maps bad requests to the error table: status, code and its fixed message, never the path', async () => {
    const { http, config, log, metrics } = await edgeWith({ MAX_FRAME_BYTES: '4096' });
    // An edge whose queue is down: the frame is never queued, and the answer says so.
    const down = new RedisEdgeTransport({
      target: `redis://127.0.0.1:${await freePort()}`,
      prefix: 'down',
      admission: admissionFrom(config),
      maxLen: 1000,
    });
    const cut = await startEdgeRuntime({ config, log, metrics, transport: down });
    stops.push(() => cut.stop());
    const post = (body: string | Buffer, type: string, base = http) =>
      fetch(`${base}/v1/detect`, { method: 'POST', headers: { 'content-type': type }, body });
    const cases: [string, Response, ErrorCode][] = [
      ['base64 body that is not a string', await post('{"image": 5}', 'application/json'), 'E_BAD_REQUEST'],
      ['JSON that does not parse', await post('nope{', 'application/json'), 'E_BAD_REQUEST'],
      ['not an image', await post('hello', 'application/octet-stream'), 'E_UNSUPPORTED_FORMAT'],
      ['empty body', await post(Buffer.alloc(0), 'image/jpeg'), 'E_EMPTY_FRAME'],
      ['too large', await post(Buffer.alloc(5000, 1), 'image/jpeg'), 'E_FRAME_TOO_LARGE'],
      [
        'queue down',
        await post(
          await drawScene({ width: 64, height: 64, format: 'jpeg' }),
          'image/jpeg',
          `http://127.0.0.1:${cut.port}`,
        ),
        'E_UNAVAILABLE',
      ],
      ['unknown path', await fetch(`${http}/v2/secret-path`), 'E_NO_ROUTE'],
      ['unknown method', await fetch(`${http}/v1/detect`, { method: 'DELETE' }), 'E_METHOD_NOT_ALLOWED'],
    ];
    for (const [what, res, code] of cases) {
      expect(res.status, what).toBe(ERROR_CODES[code].http);
      const text = await res.text();
      expect(JSON.parse(text), what).toEqual({ error: { code, message: ERROR_CODES[code].message } });
      expect(text, what).not.toContain('secret-path');
    }
    expect(ERROR_CODES.E_UNAVAILABLE.message).toContain('nothing was queued');
    // An upgrade to a path that is not a WebSocket endpoint gets an HTTP answer, not a dropped socket.
    const upgrade = await tryUpgrade(`${http.replace('http', 'ws')}/ws/elsewhere`);
    expect(upgrade).toMatchObject({ ok: false, status: 404 });
    if (!upgrade.ok)
      expect(JSON.parse(upgrade.body)).toEqual({
        error: { code: 'E_NO_ROUTE', message: ERROR_CODES.E_NO_ROUTE.message },
      });
  });
});
