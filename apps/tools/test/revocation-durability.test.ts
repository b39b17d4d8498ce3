import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisRevocations } from '@vision/auth';
import { repoRoot, startPersistentRedis, type PersistentRedis } from '@vision/testing';

const run = promisify(execFile);
const CLI = join(repoRoot(), 'apps', 'tools', 'dist', 'token.js');
const PREFIX = 'site';

async function revokeWithTool(redis: PersistentRedis, jti: string): Promise<string> {
  const { stderr } = await run(process.execPath, [CLI, '--revoke', jti], {
    env: { PATH: process.env['PATH'] ?? '', REDIS_URL: redis.url, REDIS_PREFIX: PREFIX },
  });
  return stderr;
}

async function isRevoked(redis: PersistentRedis, jti: string): Promise<boolean> {
  const list = new RedisRevocations({ target: redis.url, prefix: PREFIX });
  try {
    return await list.isRevoked(jti);
  } finally {
    await list.close();
  }
}

/** The base file the AOF manifest names: what a rewrite wrote and fsynced. */
function aofBase(dir: string): Buffer {
  const manifest = readFileSync(join(dir, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8');
  const base = /^file (\S+) seq \d+ type b$/m.exec(manifest)?.[1];
  if (!base) throw new Error(`no base file in the AOF manifest:\n${manifest}`);
  return readFileSync(join(dir, 'appendonlydir', base));
}

/**
 * What `npm run token -- --revoke` acknowledged survives a SIGKILL of Redis the moment the tool
 * returns: the state Redis of a site (AOF everysec), and one with no persistence configured.
 */
describe('a revocation the token tool acknowledged', () => {
  let redis: PersistentRedis | undefined;
  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
  });

  it('survives SIGKILL of an AOF everysec Redis, and is in the fsynced AOF base', async () => {
    // Uncompressed strings, so the jti can be found in the base file's bytes.
    redis = await startPersistentRedis(['--appendonly', 'yes', '--appendfsync', 'everysec', '--rdbcompression', 'no']);
    const jti = randomUUID();
    const said = await revokeWithTool(redis, jti);
    await redis.kill();
    expect(said).toContain('on disk (aof-rewrite)');
    // A SIGKILL keeps what reached the page cache; only the base file shows the fsync covered it.
    expect(aofBase(redis.dir).includes(jti)).toBe(true);
    await redis.start();
    expect(await isRevoked(redis, jti)).toBe(true);
  });

  it('survives SIGKILL of a Redis that takes no snapshots by itself (a snapshot is taken)', async () => {
    redis = await startPersistentRedis(['--appendonly', 'no', '--save', '']);
    const jti = randomUUID();
    const said = await revokeWithTool(redis, jti);
    await redis.kill();
    expect(said).toContain('on disk (rdb-snapshot)');
    await redis.start();
    expect(await isRevoked(redis, jti)).toBe(true);
  });
});
