import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '@vision/auth';
import type { AuthConfig } from '@vision/config';
import { signTestToken, TEST_JWT_SECRET } from '@vision/testing';
import { listenOperatorApi, operatorApi, RouteTable, type OperatorRoute } from '../src';

const auth: AuthConfig = {
  disabled: undefined,
  secret: TEST_JWT_SECRET,
  previousSecret: undefined,
  previousSecretUntil: undefined,
  jwksFile: undefined,
  jwksUrl: undefined,
  issuer: undefined,
  audience: undefined,
  clockSkewS: 0,
  allowedOrigins: [],
  allowNoOrigin: true,
  trustedProxies: [],
};
const LIMITS = { maxBytes: 1000, timeoutMs: 600 };

/** Sends `head` then the body in `pieces`, `gapMs` apart, on a raw socket; resolves with the raw answer. */
function rawRequest(port: number, head: string, pieces: string[], gapMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.write(head);
    let i = 0;
    const next = () => {
      if (i < pieces.length && !socket.destroyed) socket.write(pieces[i++], () => setTimeout(next, gapMs));
    };
    next();
  });
}

describe('operator API toolkit (real server, real sockets)', () => {
  let server: Server;
  let base: string;
  let port: number;
  let verifier: TokenVerifier | undefined = TokenVerifier.create(auth);
  const seen: string[] = [];

  beforeAll(async () => {
    const routes = new RouteTable<OperatorRoute>()
      .add('GET', '/v1/things/:id', {
        scope: 'things:read',
        handle: async ({ params, principal, json }) => json(200, { id: params['id'], subject: principal.subject }),
      })
      .add('PUT', '/v1/things/:id', {
        scope: 'things:write',
        handle: async ({ params, body, json }) => json(200, { id: params['id'], body: await body() }),
      })
      .add('GET', '/v1/broken', {
        scope: 'things:read',
        handle: async () => {
          throw new Error('secret library detail');
        },
      });
    // The verifier is read per request, so one test can switch authentication off.
    const listener = (switchable: TokenVerifier | undefined) =>
      operatorApi({
        routes,
        verifier: switchable,
        body: LIMITS,
        onInternalError: (err) => seen.push((err as Error).message),
      });
    server = await listenOperatorApi((req, res) => listener(verifier)(req, res), {
      host: '127.0.0.1',
      port: 0,
      body: LIMITS,
    });
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const call = async (method: string, path: string, init: { token?: string; type?: string; body?: string } = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.type ? { 'content-type': init.type } : {}),
      },
      body: init.body,
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
  const error = (code: string) => ({ error: { code, message: expect.any(String) } });

  it('routes with parameters, checks the token and its scope, and answers JSON', async () => {
    const read = await signTestToken({ sub: 'ops', scope: 'things:read' });
    expect(await call('GET', '/v1/things/a%2Fb', { token: read })).toMatchObject({
      status: 200,
      body: { id: 'a/b', subject: 'sub:ops' },
    });
    const missing = await call('GET', '/v1/things/x');
    expect(missing).toMatchObject({ status: 401, body: error('E_UNAUTHORIZED') });
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await call('GET', '/v1/things/x', { token: 'not-a-jwt' })).toMatchObject({
      status: 401,
      body: { error: { code: 'E_UNAUTHORIZED', message: 'missing or invalid credentials' } },
    });
    expect(await call('PUT', '/v1/things/x', { token: read, type: 'application/json', body: '{}' })).toMatchObject({
      status: 403,
      body: { error: { code: 'E_FORBIDDEN', message: 'the token lacks the things:write scope' } },
    });
  });

  it('answers an unknown route 404 E_NO_ROUTE and a wrong method 405 with Allow', async () => {
    expect(await call('GET', '/v1/nothing')).toMatchObject({ status: 404, body: error('E_NO_ROUTE') });
    const wrong = await call('DELETE', '/v1/things/x');
    expect(wrong).toMatchObject({ status: 405, body: error('E_METHOD_NOT_ALLOWED') });
    expect(wrong.headers.get('allow')).toBe('GET, PUT');
  });

  it('refuses bodies that are not JSON, not declared JSON, or too large, with their codes', async () => {
    const token = await signTestToken({ sub: 'ops', scope: 'things:write' });
    const put = (type: string | undefined, body: string) => call('PUT', '/v1/things/x', { token, type, body });
    expect(await put('application/json', '{"a": [1, 2]}')).toMatchObject({
      status: 200,
      body: { body: { a: [1, 2] } },
    });
    expect(await put('application/json', '{"a":')).toMatchObject({
      status: 400,
      body: { error: { code: 'E_BAD_REQUEST', message: 'the body is not JSON' } },
    });
    expect(await put('text/plain', '{}')).toMatchObject({ status: 415, body: error('E_UNSUPPORTED_MEDIA_TYPE') });
    expect(await put('application/json', JSON.stringify({ pad: 'x'.repeat(LIMITS.maxBytes) }))).toMatchObject({
      status: 413,
      body: { error: { code: 'E_BODY_TOO_LARGE', message: `the body is larger than ${LIMITS.maxBytes} bytes` } },
    });
  });

  it("counts a chunked body's bytes as they arrive; cuts off a body that trickles past the time bound", async () => {
    const token = await signTestToken({ sub: 'ops', scope: 'things:write' });
    const head = (extra: string) =>
      `PUT /v1/things/x HTTP/1.1\r\nhost: t\r\nauthorization: Bearer ${token}\r\n` +
      `content-type: application/json\r\n${extra}\r\n`;
    // Chunked: no Content-Length to refuse up front; the limit trips on the bytes themselves.
    const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;
    const big = await rawRequest(
      port,
      head('transfer-encoding: chunked\r\n'),
      [chunk('"'), ...Array.from({ length: 4 }, () => chunk('y'.repeat(400))), '0\r\n\r\n'],
      20,
    );
    expect(big).toMatch(/^HTTP\/1.1 413 /);
    expect(big).toContain('"code":"E_BODY_TOO_LARGE"');

    // Ten bytes every 100 ms: all within the byte limit, never within the time bound.
    const started = Date.now();
    const slow = await rawRequest(port, head('content-length: 200\r\n'), Array(20).fill('          '), 100);
    expect(slow).toMatch(/^HTTP\/1.1 408 /);
    expect(slow).toContain('"code":"E_BODY_TIMEOUT"');
    expect(slow.toLowerCase()).toContain('connection: close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(LIMITS.timeoutMs);
    expect(Date.now() - started).toBeLessThan(LIMITS.timeoutMs + 1000);
  });

  it('never shows the text of an unexpected error, and without a verifier everyone is their address', async () => {
    const read = await signTestToken({ sub: 'ops', scope: 'things:read' });
    expect(await call('GET', '/v1/broken', { token: read })).toEqual({
      status: 500,
      headers: expect.anything(),
      body: { error: { code: 'E_INTERNAL', message: 'unexpected server error' } },
    });
    expect(seen).toEqual(['secret library detail']);
    verifier = undefined;
    try {
      expect(await call('GET', '/v1/things/x')).toMatchObject({ status: 200, body: { subject: 'ip:127.0.0.1' } });
    } finally {
      verifier = TokenVerifier.create(auth);
    }
  });
});
