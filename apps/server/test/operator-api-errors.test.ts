import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '@vision/wire';
import {
  cleanupPrefix,
  modelsDir,
  signTestToken,
  startService,
  startTestRedis,
  TEST_JWT_SECRET,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';

/** One request to refuse, per service: where it goes, and what it needs to get that far. */
interface Probe {
  method: string;
  path: string;
  /** A token with everything the route needs (the "missing scope" case uses `lacking` instead). */
  allowed: () => Promise<string>;
  /** A valid token without the permission `guarded` needs. */
  lacking: () => Promise<string>;
  /** A route the `lacking` token may not use (the edge refuses it before the body is read). */
  guarded: [method: string, path: string];
  /** Where a malformed JSON body is read. */
  bodyPath: string;
  bodyMethod: string;
}

/**
 * The three HTTP APIs a site runs, started as real processes with authentication on, answer the same
 * four mistakes the same way: one shape, `{ error: { code, message } }` and nothing else, with the
 * code and HTTP status from the one wire error table (libs/wire). The edge on Nest, the gateway and
 * the events service on libs/http.
 */
describe('every HTTP API answers errors from the one table, in one shape', () => {
  let redis: TestRedis;
  const prefix = uniquePrefix('operrors');
  const services: Record<'edge' | 'gateway' | 'events', ServiceProcess> = {} as never;
  const auth = { AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET };
  const probes: Record<keyof typeof services, Probe> = {
    // The edge has no scopes: a token's `models` claim is what it may use.
    edge: {
      method: 'GET',
      path: '/v1/models',
      allowed: () => signTestToken({ sub: 'client' }),
      lacking: () => signTestToken({ sub: 'client', models: ['another-model'] }),
      guarded: ['POST', '/v1/detect'],
      bodyMethod: 'POST',
      bodyPath: '/v1/detect',
    },
    gateway: {
      method: 'GET',
      path: '/v1/cameras',
      allowed: () => signTestToken({ sub: 'ops', scope: 'cameras:read cameras:write' }),
      lacking: () => signTestToken({ sub: 'ops', scope: 'events:read' }),
      guarded: ['GET', '/v1/cameras'],
      bodyMethod: 'POST',
      bodyPath: '/v1/cameras',
    },
    events: {
      method: 'GET',
      path: '/v1/events/cameras',
      allowed: () => signTestToken({ sub: 'ops', scope: 'events:read events:write' }),
      lacking: () => signTestToken({ sub: 'ops', scope: 'cameras:read' }),
      guarded: ['GET', '/v1/events/cameras'],
      bodyMethod: 'PUT',
      bodyPath: '/v1/events/cameras/cam-1/rules/gate',
    },
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    const common = { ...auth, REDIS_URL: redis.url, REDIS_PREFIX: prefix };
    services.edge = await startService('edge', { ...common, MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') });
    [services.gateway, services.events] = await Promise.all([
      startService('gateway', { ...auth, GATEWAY_EDGE_URLS: `ws://127.0.0.1:${services.edge.port}/ws/detect` }),
      startService('events', common),
    ]);
  });

  afterAll(async () => {
    await Promise.all(Object.values(services).map((s) => s.kill('SIGKILL')));
    await cleanupPrefix(redis.url, prefix);
    await redis?.stop();
  });

  const send = async (service: keyof typeof services, method: string, path: string, token?: string, body?: string) => {
    const res = await fetch(`http://127.0.0.1:${services[service].port}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body,
    });
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as unknown };
  };

  it('a malformed JSON body, a missing token, a missing scope, an unknown route and a wrong method', async () => {
    const answers: Record<string, Record<string, unknown>> = {};
    for (const [service, probe] of Object.entries(probes) as [keyof typeof services, Probe][]) {
      // The allowed call succeeds, so each refusal below is the one thing that differs.
      expect((await send(service, probe.method, probe.path, await probe.allowed())).status, service).toBe(200);
      const cases: [string, ErrorCode, ReturnType<typeof send>][] = [
        [
          'malformed body',
          'E_BAD_REQUEST',
          send(service, probe.bodyMethod, probe.bodyPath, await probe.allowed(), '{"image": "x", "id": '),
        ],
        ['missing token', 'E_UNAUTHORIZED', send(service, ...probe.guarded)],
        ['missing scope', 'E_FORBIDDEN', send(service, ...probe.guarded, await probe.lacking())],
        ['unknown route', 'E_NO_ROUTE', send(service, 'GET', '/v1/no-such-route', await probe.allowed())],
        ['wrong method', 'E_METHOD_NOT_ALLOWED', send(service, 'DELETE', probe.path, await probe.allowed())],
      ];
      for (const [what, code, pending] of cases) {
        const answer = await pending;
        const label = `${service}: ${what}`;
        expect(answer.status, label).toBe(ERROR_CODES[code].http);
        expect(answer.type, label).toMatch(/^application\/json/);
        expect(answer.body, label).toEqual({ error: { code, message: expect.any(String) } });
        answers[label] = answer.body as Record<string, unknown>;
      }
    }
    expect(Object.keys(answers)).toHaveLength(15);
  });
});
