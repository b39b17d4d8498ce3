import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { SCHEMA_VERSION, schemaVersionKey } from '@vision/redis';
import {
  cleanupPrefix,
  modelsDir,
  startService,
  startTestRedis,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';

/**
 * The schema version of a site's state (docs/upgrade.md), against real role processes: a role
 * refuses state newer than it knows, and writes its own on a first start or over an older one.
 */
describe.concurrent('schema version of the state in Redis', () => {
  let redis: TestRedis;
  let admin: Redis;
  const prefixes: string[] = [];
  const procs: ServiceProcess[] = [];
  const model = { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') };
  const site = (name: string) => {
    const prefix = uniquePrefix(name);
    prefixes.push(prefix);
    return { REDIS_URL: redis.url, REDIS_PREFIX: prefix, ...model };
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    for (const p of prefixes) await cleanupPrefix(redis.url, p);
    admin.disconnect();
    await redis.stop();
  });

  for (const role of ['edge', 'worker', 'events'] as const) {
    it(`${role}: refuses to start on state of a newer schema version, with E_CONFIG naming both versions`, async ({
      expect,
    }) => {
      const env = site(`schema-${role}`);
      const newer = SCHEMA_VERSION + 1;
      await admin.set(schemaVersionKey(env.REDIS_PREFIX), String(newer));
      const started = startService(role, env, 60_000);
      await expect(started).rejects.toThrow(
        new RegExp(
          `${role} exited \\(1\\).*"code":"E_CONFIG".*schema version ${newer}` +
            `.*this ${role} supports schema version ${SCHEMA_VERSION}`,
        ),
      );
      // The newer state is left as it was.
      expect(await admin.get(schemaVersionKey(env.REDIS_PREFIX))).toBe(String(newer));
    });
  }

  it('with a state Redis of its own (STATE_REDIS_URL), the version lives there, not with the frames', async ({
    expect,
  }) => {
    const frames = await startTestRedis({ own: true });
    const onFrames = new Redis(frames.url);
    try {
      const env = { ...site('schema-split'), REDIS_URL: frames.url, STATE_REDIS_URL: redis.url };
      await admin.set(schemaVersionKey(env.REDIS_PREFIX), String(SCHEMA_VERSION + 1));
      await expect(startService('edge', env, 60_000)).rejects.toThrow(/"code":"E_CONFIG".*schema version/);
      await admin.del(schemaVersionKey(env.REDIS_PREFIX));
      procs.push(await startService('worker', env));
      expect(await admin.get(schemaVersionKey(env.REDIS_PREFIX))).toBe(String(SCHEMA_VERSION));
      expect(await onFrames.get(schemaVersionKey(env.REDIS_PREFIX))).toBeNull();
    } finally {
      onFrames.disconnect();
      await frames.stop();
    }
  });

  it('a first start writes the version this build supports', async ({ expect }) => {
    const env = site('schema-first');
    expect(await admin.get(schemaVersionKey(env.REDIS_PREFIX))).toBeNull();
    procs.push(await startService('edge', env));
    expect(await admin.get(schemaVersionKey(env.REDIS_PREFIX))).toBe(String(SCHEMA_VERSION));
  });
});
