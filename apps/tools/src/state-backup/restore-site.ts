import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type Redis from 'ioredis';
import { schemaVersionKey } from '@vision/redis';
import { VisionError } from '@vision/wire';
import type { FileRole, SiteBackup } from './backup-file';
import { queueTallies, scanStateKeys, type Tallies } from './state-keys';

/**
 * Staged keys expire after this if the restore dies before its MULTI; the MULTI gives each its own
 * TTL back (a short one could otherwise expire before its rename).
 */
const STAGING_TTL_MS = 3_600_000;
/** RESTOREs per round trip: a few large keys (an events stream) or many small ones. */
const RESTORE_BATCH = 200;

export interface RestoreTarget {
  redis: Redis;
  prefix: string;
  /** Where each file of the backup goes (the target site's settings), else where it came from. */
  filePaths: Partial<Record<FileRole, string>>;
  /** Replace state keys and files that differ, instead of refusing. */
  force: boolean;
}

/**
 * Restores all of `backup` or nothing: every key is RESTOREd under a staging name first (a payload
 * Redis refuses stops it there, staged keys removed), the files are written beside their targets,
 * and only then one MULTI renames the staged keys over the site's and the files are renamed into
 * place. Returns the tallies read back from the restored keys.
 */
export async function restoreSite(backup: SiteBackup, target: RestoreTarget): Promise<Tallies> {
  const { redis, prefix } = target;
  const existing = (await scanStateKeys(redis, prefix)).filter(
    (name) => `${prefix}:${name}` !== schemaVersionKey(prefix),
  );
  const files = backup.files.map((f) => ({ ...f, target: target.filePaths[f.role] ?? f.path }));
  const differing = files.filter((f) => existsSync(f.target) && !readFileSync(f.target).equals(f.data));
  if (!target.force && (existing.length > 0 || differing.length > 0))
    throw new VisionError(
      'E_BACKUP_TARGET_NOT_EMPTY',
      [
        existing.length ? `${existing.length} state keys under ${prefix} (${existing.slice(0, 3).join(', ')}…)` : '',
        ...differing.map((f) => `${f.target} differs from the backup's ${f.role} file`),
      ]
        .filter(Boolean)
        .join('; ') + ': restore into a fresh site, or pass --force to replace them',
    );

  const staging = `${prefix}:restore-staging:${randomBytes(6).toString('hex')}`;
  await stageKeys(redis, staging, backup);
  const tag = randomBytes(4).toString('hex');
  const written: string[] = [];
  try {
    for (const f of files) {
      mkdirSync(dirname(f.target), { recursive: true });
      writeFileSync(`${f.target}.restore-${tag}`, f.data, { mode: f.mode & 0o777 });
      written.push(`${f.target}.restore-${tag}`);
    }
  } catch (err) {
    for (const path of written) rmSync(path, { force: true });
    await dropStaged(redis, staging);
    throw err;
  }

  const swap = redis.multi();
  const restored = new Set(backup.keys.map((k) => k.name));
  for (const name of existing) if (!restored.has(name)) swap.del(`${prefix}:${name}`);
  for (const key of backup.keys) {
    swap.rename(`${staging}:${key.name}`, `${prefix}:${key.name}`);
    if (key.ttlMs < 0) swap.persist(`${prefix}:${key.name}`);
    else swap.pexpire(`${prefix}:${key.name}`, key.ttlMs);
  }
  const failed = ((await swap.exec()) ?? []).find(([err]) => err);
  if (failed) throw failed[0] as Error;
  for (const f of files) {
    renameSync(`${f.target}.restore-${tag}`, f.target);
    chmodSync(f.target, f.mode & 0o777);
  }
  return readTallies(redis, prefix);
}

async function stageKeys(redis: Redis, staging: string, backup: SiteBackup): Promise<void> {
  for (let start = 0; start < backup.keys.length; start += RESTORE_BATCH) {
    const batch = backup.keys.slice(start, start + RESTORE_BATCH);
    const pipe = redis.pipeline();
    for (const key of batch) pipe.restore(`${staging}:${key.name}`, STAGING_TTL_MS, key.dump, 'REPLACE');
    const replies = (await pipe.exec()) ?? [];
    const refused = replies.findIndex(([err]) => err);
    if (refused >= 0) {
      await dropStaged(redis, staging);
      throw new VisionError(
        'E_BACKUP_INVALID',
        `Redis refused the backup's key ${batch[refused].name}: ${(replies[refused][0] as Error).message}; ` +
          'nothing was restored',
      );
    }
  }
}

async function dropStaged(redis: Redis, staging: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${staging}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** The tallies of the state keys now under `prefix` (to compare with the manifest's). */
export async function readTallies(redis: Redis, prefix: string): Promise<Tallies> {
  const names = await scanStateKeys(redis, prefix);
  const pipe = redis.multi();
  const read = queueTallies(pipe, prefix, names);
  return read(((await pipe.exec()) ?? []).map(([, value]) => value));
}
