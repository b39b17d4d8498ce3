import { join } from 'node:path';
import type Redis from 'ioredis';
import { VisionError } from '@vision/wire';
import { connectTolerant, createRedis, requireRedis7 } from './connection';
import { defineScript } from './scripts';
import type { RedisTarget } from './target';

/**
 * The layout of the site's state in Redis this build reads and writes (docs/upgrade.md). Raised
 * only when a release changes keys or values so that an older build would misread them; CHANGELOG
 * says when it does.
 */
export const SCHEMA_VERSION = 1;

const schemaScript = defineScript(join(__dirname, '..', 'lua'), {
  name: 'schema-version',
  keys: ['version'],
  args: ['ours'],
});

/** The key that holds the schema version of the site under `prefix`. */
export function schemaVersionKey(prefix: string): string {
  return `${prefix}:schema-version`;
}

/**
 * Start-up check of every role that keeps state in Redis: a version newer than this build's means
 * a newer release already wrote state this one could misread, so the role refuses to start. No
 * version (first start) or an older one: this build's is written. Like `requireRedis7`, a Redis
 * that is not up yet is not checked.
 */
export async function requireSchemaVersion(redis: Redis, prefix: string, role: string): Promise<void> {
  if (redis.status !== 'ready') return;
  const key = schemaVersionKey(prefix);
  const found = (await schemaScript.run(redis, { version: key }, { ours: SCHEMA_VERSION })) as string | null;
  if (found === null) return;
  const version = Number(found);
  if (!Number.isInteger(version) || version < 1)
    throw new VisionError('E_CONFIG', `${key} holds "${found}", not a schema version (docs/upgrade.md)`);
  if (version > SCHEMA_VERSION)
    throw new VisionError(
      'E_CONFIG',
      `the site's state in Redis (${key}) is at schema version ${version}; this ${role} supports schema ` +
        `version ${SCHEMA_VERSION}: run a release that supports ${version} (docs/upgrade.md)`,
    );
}

/** What a role needs of its state Redis before it starts: version 7 and a schema version it supports. */
export async function requireCompatibleRedis(redis: Redis, prefix: string, role: string): Promise<void> {
  await requireRedis7(redis);
  await requireSchemaVersion(redis, prefix, role);
}

/**
 * The check of edges and workers, whose state connections are opened by their parts later: the version
 * lives with the state (STATE_REDIS_URL), not with the frames, so it is read through a connection of its own.
 */
export async function requireStateSchema(target: RedisTarget, prefix: string, role: string): Promise<void> {
  const redis = createRedis(target, { name: `${role}-schema` });
  try {
    await connectTolerant(redis);
    await requireCompatibleRedis(redis, prefix, role);
  } finally {
    redis.disconnect();
  }
}
