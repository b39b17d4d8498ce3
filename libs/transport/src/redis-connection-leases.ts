import type Redis from 'ioredis';
import { VisionError } from '@vision/wire';
import { connectTolerant, createRedis, type RedisConnectionOptions, type RedisTarget } from '@vision/redis';
import { redisKeys, type RedisKeys } from './redis-keys';
import type { ConnectionLease, ConnectionLeases } from './transport';
import { transportScripts } from './transport-scripts';

/** How long a lease lives unless its edge renews it; renewed every third of that. */
const LEASE_MS = 30_000;

/**
 * Connection slots per address and per subject, shared by every edge through Redis. Each edge
 * renews its own leases; a crashed edge's leases lapse within `LEASE_MS`.
 */
export class RedisConnectionLeases implements ConnectionLeases {
  private readonly keys: RedisKeys;
  private readonly redis: Redis;
  private readonly held = new Map<string, ConnectionLease>();
  private readonly renewer: NodeJS.Timeout;
  private readonly connected: Promise<void>;

  constructor(opts: { target: RedisTarget; prefix: string; onState?: RedisConnectionOptions['onState'] }) {
    this.keys = redisKeys(opts.prefix);
    this.redis = createRedis(opts.target, { name: 'edge-leases', onState: opts.onState });
    this.connected = connectTolerant(this.redis);
    this.renewer = setInterval(() => void this.renew(), LEASE_MS / 3);
    this.renewer.unref();
  }

  async acquire(
    lease: ConnectionLease,
    limits: { perIp: number; perSubject: number },
  ): Promise<'ok' | 'ip' | 'subject'> {
    await this.connected;
    const now = Date.now();
    const sets: { key: string; limit: number; kind: 'ip' | 'subject' }[] = [
      ...(lease.ip !== undefined
        ? [{ key: this.keys.connectionsByIp(lease.ip), limit: limits.perIp, kind: 'ip' as const }]
        : []),
      { key: this.keys.connectionsBySubject(lease.subject), limit: limits.perSubject, kind: 'subject' },
    ];
    let r: number;
    try {
      r = (await transportScripts.acquireConnection.run(
        this.redis,
        {},
        { now, expiresAt: now + LEASE_MS, connId: lease.connId },
        { keys: sets.map((s) => s.key), args: sets.map((s) => s.limit) },
      )) as number;
    } catch (err) {
      throw new VisionError('E_UNAVAILABLE', `connection limits unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (r === 1) {
      this.held.set(lease.connId, lease);
      return 'ok';
    }
    return sets[-r - 1].kind;
  }

  async release(lease: ConnectionLease): Promise<void> {
    this.held.delete(lease.connId);
    const pipe = this.redis.pipeline();
    for (const key of this.setsOf(lease)) pipe.zrem(key, lease.connId);
    await pipe.exec().catch(() => undefined); // an unreleased lease lapses by itself
  }

  /** The sets a lease holds a slot in: its address's (unless it does not count there) and its subject's. */
  private setsOf(lease: ConnectionLease): string[] {
    return [
      ...(lease.ip !== undefined ? [this.keys.connectionsByIp(lease.ip)] : []),
      this.keys.connectionsBySubject(lease.subject),
    ];
  }

  private async renew(): Promise<void> {
    if (this.held.size === 0) return;
    const until = Date.now() + LEASE_MS;
    const pipe = this.redis.pipeline();
    for (const l of this.held.values()) {
      for (const key of this.setsOf(l)) {
        pipe.zadd(key, 'XX', until, l.connId);
        pipe.pexpireat(key, until);
      }
    }
    await pipe.exec().catch(() => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.renewer);
    await Promise.all([...this.held.values()].map((l) => this.release(l)));
    this.redis.disconnect();
  }
}

/** The embedded mode's leases: one process, so plain counters. */
export class MemoryConnectionLeases implements ConnectionLeases {
  private readonly byIp = new Map<string, number>();
  private readonly bySubject = new Map<string, number>();

  async acquire(
    lease: ConnectionLease,
    limits: { perIp: number; perSubject: number },
  ): Promise<'ok' | 'ip' | 'subject'> {
    const ip = lease.ip;
    if (ip !== undefined && (this.byIp.get(ip) ?? 0) >= limits.perIp) return 'ip';
    if ((this.bySubject.get(lease.subject) ?? 0) >= limits.perSubject) return 'subject';
    if (ip !== undefined) this.byIp.set(ip, (this.byIp.get(ip) ?? 0) + 1);
    this.bySubject.set(lease.subject, (this.bySubject.get(lease.subject) ?? 0) + 1);
    return 'ok';
  }

  async release(lease: ConnectionLease): Promise<void> {
    if (lease.ip !== undefined) dec(this.byIp, lease.ip);
    dec(this.bySubject, lease.subject);
  }

  async close(): Promise<void> {}
}

function dec(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}
