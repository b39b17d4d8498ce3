import { join } from 'node:path';
import type Redis from 'ioredis';
import {
  connectTolerant,
  createRedis,
  defineScript,
  persistWrites,
  type PersistReport,
  type RedisConnectionOptions,
  type RedisTarget,
} from '@vision/redis';
import { VisionError } from '@vision/wire';

/**
 * Tokens revoked before they expire, by `jti`. Edges check it at every upgrade and request, and
 * look for new entries every few seconds to close sockets already open with a revoked token.
 */
export interface Revocations {
  isRevoked(tokenId: string): Promise<boolean>;
  /** Token ids revoked at or after `cursor` (ms), and the cursor to ask with next. */
  revokedSince(cursor: number): Promise<{ tokenIds: string[]; cursor: number }>;
  /** Revokes `tokenId` until `expiresAt` (ms), after which the token is dead anyway. */
  revoke(tokenId: string, expiresAt: number): Promise<void>;
  close(): Promise<void>;
}

const revokeScript = defineScript(join(__dirname, '..', 'lua'), {
  name: 'revoke',
  keys: ['revoked', 'expiries'],
  args: ['jti', 'expiresAt'],
});
/** A poll returns at most this many revocations; the rest come with the next. */
const PAGE = 1000;

/** The site's revocation list in Redis, shared by every edge (and written by `npm run token -- revoke`). */
export class RedisRevocations implements Revocations {
  private readonly redis: Redis;
  private readonly connected: Promise<void>;
  private readonly keys: { revoked: string; expiries: string };

  constructor(opts: { target: RedisTarget; prefix: string; onState?: RedisConnectionOptions['onState'] }) {
    this.redis = createRedis(opts.target, { name: 'revocations', onState: opts.onState });
    this.connected = connectTolerant(this.redis);
    this.keys = { revoked: `${opts.prefix}:revoked`, expiries: `${opts.prefix}:revoked:exp` };
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    await this.connected;
    try {
      return (await this.redis.zscore(this.keys.revoked, tokenId)) !== null;
    } catch (err) {
      // Fail closed: a token whose status cannot be checked is not accepted.
      throw new VisionError('E_UNAVAILABLE', `the revocation list is unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async revokedSince(cursor: number): Promise<{ tokenIds: string[]; cursor: number }> {
    await this.connected;
    const rows = await this.redis.zrangebyscore(this.keys.revoked, cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, PAGE);
    const tokenIds: string[] = [];
    let next = cursor;
    for (let i = 0; i < rows.length; i += 2) {
      tokenIds.push(rows[i]);
      next = Math.max(next, Number(rows[i + 1]));
    }
    return { tokenIds, cursor: next };
  }

  async revoke(tokenId: string, expiresAt: number): Promise<void> {
    await this.connected;
    await revokeScript.run(this.redis, this.keys, { jti: tokenId, expiresAt });
  }

  /**
   * Revokes, then returns only once the revocation is on the Redis' disk and its replicas
   * (`persistWrites`): what `npm run token -- --revoke` acknowledges survives a crash of Redis.
   */
  async revokeDurably(tokenId: string, expiresAt: number, timeoutMs: number): Promise<PersistReport> {
    await this.revoke(tokenId, expiresAt);
    return persistWrites(this.redis, { timeoutMs });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** The embedded server's list: one process, so a map; revoked through the same interface. */
export class MemoryRevocations implements Revocations {
  private readonly revoked = new Map<string, { at: number; expiresAt: number }>();

  async isRevoked(tokenId: string): Promise<boolean> {
    return this.revoked.has(tokenId);
  }

  async revokedSince(cursor: number): Promise<{ tokenIds: string[]; cursor: number }> {
    const hits = [...this.revoked].filter(([, r]) => r.at >= cursor);
    return { tokenIds: hits.map(([id]) => id), cursor: Math.max(cursor, ...hits.map(([, r]) => r.at)) };
  }

  async revoke(tokenId: string, expiresAt: number): Promise<void> {
    const now = Date.now();
    for (const [id, r] of this.revoked) if (r.expiresAt <= now) this.revoked.delete(id);
    if (expiresAt > now) this.revoked.set(tokenId, { at: now, expiresAt });
  }

  async close(): Promise<void> {}
}
