import type Redis from 'ioredis';
import { SCHEMA_VERSION, schemaVersionKey } from '@vision/redis';
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, type KeyEntry, type SiteBackup, type SiteFile } from './backup-file';
import { queueTallies, scanStateKeys } from './state-keys';

/**
 * Captures the site's state keys under `prefix` and its files. Every `DUMP`, TTL and tally runs in
 * one MULTI, so the keys are one instant of the site (a rule and the counts it made agree); keys
 * created after the scan are left for the next backup.
 */
export async function captureSite(redis: Redis, prefix: string, files: SiteFile[]): Promise<SiteBackup> {
  const names = await scanStateKeys(redis, prefix);
  const pipe = redis.multi();
  for (const name of names) pipe.dumpBuffer(`${prefix}:${name}`).pttl(`${prefix}:${name}`);
  const readTallies = queueTallies(pipe, prefix, names);
  const replies = (await pipe.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0] as Error;
  const values = replies.map(([, value]) => value);
  const keys: KeyEntry[] = [];
  for (const [i, name] of names.entries()) {
    const dump = values[2 * i] as Buffer | null;
    // Gone between the scan and the MULTI (a bulk job that expired): not part of this instant.
    if (dump === null) continue;
    keys.push({ name, dump, ttlMs: Math.max(-1, Number(values[2 * i + 1])) });
  }
  const tallies = readTallies(values.slice(2 * names.length));
  tallies.keys = keys.length;
  const server = await redis.info('server');
  return {
    manifest: {
      format: BACKUP_FORMAT,
      formatVersion: BACKUP_FORMAT_VERSION,
      schemaVersion: await storedSchemaVersion(redis, prefix),
      createdAt: new Date().toISOString(),
      prefix,
      redisVersion: /redis_version:([\d.]+)/.exec(server)?.[1] ?? 'unknown',
      tallies,
      files: files.map((f) => ({ role: f.role, path: f.path, bytes: f.data.length })),
    },
    keys,
    files,
  };
}

/** The site's schema version; a site no role has started on yet is at this release's. */
async function storedSchemaVersion(redis: Redis, prefix: string): Promise<number> {
  const stored = await redis.get(schemaVersionKey(prefix));
  return stored === null ? SCHEMA_VERSION : Number(stored);
}
