import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, describe, it } from 'vitest';
import { SCHEMA_VERSION, schemaVersionKey } from '@vision/redis';
import { modelsDir, startRedisSite, startTestRedis, type RedisSite } from '@vision/testing';

/**
 * The schema version of a site's state (docs/upgrade.md), against real role processes: a role
 * refuses state newer than it knows, and writes its own on a first start or over an older one.
 */
describe.concurrent('schema version of the state in Redis', () => {
  const sites: RedisSite[] = [];
  const admins: Redis[] = [];
  /** A site of its own per case, and a connection to read and plant its schema version. */
  const siteWithAdmin = async (name: string) => {
    const site = await startRedisSite(name, { env: { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') } });
    const admin = new Redis(site.redis.url);
    sites.push(site);
    admins.push(admin);
    return { site, admin, key: schemaVersionKey(site.prefix) };
  };

  afterAll(async () => {
    admins.forEach((admin) => admin.disconnect());
    await Promise.all(sites.map((site) => site.stop()));
  });

  for (const role of ['edge', 'worker', 'events'] as const) {
    it(`${role}: refuses to start on state of a newer schema version, with E_CONFIG naming both versions`, async ({
      expect,
    }) => {
      const { site, admin, key } = await siteWithAdmin(`schema-${role}`);
      const newer = SCHEMA_VERSION + 1;
      await admin.set(key, String(newer));
      const started = site.start(role, {}, 60_000);
      await expect(started).rejects.toThrow(
        new RegExp(
          `${role} exited \\(1\\).*"code":"E_CONFIG".*schema version ${newer}` +
            `.*this ${role} supports schema version ${SCHEMA_VERSION}`,
        ),
      );
      // The newer state is left as it was.
      expect(await admin.get(key)).toBe(String(newer));
    });
  }

  it('with a state Redis of its own (STATE_REDIS_URL), the version lives there, not with the frames', async ({
    expect,
  }) => {
    // The site's Redis holds the state; the frames get a Redis of their own.
    const { site, admin, key } = await siteWithAdmin('schema-split');
    const frames = await startTestRedis({ own: true });
    const onFrames = new Redis(frames.url);
    try {
      const env = { REDIS_URL: frames.url, STATE_REDIS_URL: site.redis.url };
      await admin.set(key, String(SCHEMA_VERSION + 1));
      await expect(site.start('edge', env, 60_000)).rejects.toThrow(/"code":"E_CONFIG".*schema version/);
      await admin.del(key);
      await site.start('worker', env);
      expect(await admin.get(key)).toBe(String(SCHEMA_VERSION));
      expect(await onFrames.get(key)).toBeNull();
    } finally {
      onFrames.disconnect();
      await frames.stop();
    }
  });

  it('a first start writes the version this build supports', async ({ expect }) => {
    const { site, admin, key } = await siteWithAdmin('schema-first');
    expect(await admin.get(key)).toBeNull();
    await site.start('edge');
    expect(await admin.get(key)).toBe(String(SCHEMA_VERSION));
  });
});
