import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './redis-server';

export interface SentinelSiteOptions {
  /** The master group name the sentinels monitor. @defaultValue 'vision' */
  name?: string;
  /** How long a primary must be silent before a sentinel calls it down. @defaultValue 2000 */
  downAfterMs?: number;
  /** @defaultValue 5000 */
  failoverTimeoutMs?: number;
}

/** A primary, one replica and three sentinels (quorum 2), each a real process on a free port of 127.0.0.1. */
export interface SentinelSite {
  name: string;
  /** What REDIS_SENTINELS takes: `127.0.0.1:<port>,...`. */
  sentinelsSetting: string;
  sentinelPorts: number[];
  /** The port of the primary the sentinels report now. */
  primaryPort(): Promise<number>;
  /**
   * Freezes the replica (SIGSTOP) and drops its link: what the primary takes from then on is on the
   * primary alone, as with a replica that lags. The returned function lets the replica run again.
   */
  cutReplica(): Promise<() => void>;
  /** SIGKILLs the process serving `port` (the primary or the replica). */
  kill(port: number): Promise<void>;
  /** Waits until the sentinels report a primary other than `oldPort`, and returns its port. */
  waitForFailover(oldPort: number, timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the processes and waits until every sentinel knows the replica and the two other sentinels. */
export async function startSentinelSite(opts: SentinelSiteOptions = {}): Promise<SentinelSite> {
  const name = opts.name ?? 'vision';
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-'));
  const procs = new Map<number, ChildProcess>();
  const primary = await freePort();
  const replica = await freePort();
  // A replica's full sync lands in its folder: the temporary one, never the repository.
  const noDisk = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  procs.set(primary, await launch('redis-server', ['--port', String(primary), ...noDisk], primary));
  procs.set(
    replica,
    await launch(
      'redis-server',
      [
        '--port',
        String(replica),
        ...noDisk,
        '--replicaof',
        '127.0.0.1',
        String(primary),
        '--enable-debug-command',
        'local',
      ],
      replica,
    ),
  );
  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    // Sentinels rewrite their config file (known replicas, epochs), so each gets its own.
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
        `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 2000}`,
        `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 5000}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    procs.set(port, await launch('redis-sentinel', [conf], port));
    sentinelPorts.push(port);
  }
  const ask = async <T>(port: number, ...args: string[]): Promise<T> => {
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return (await r.call('SENTINEL', ...args)) as T;
    } finally {
      r.disconnect();
    }
  };
  const primaryPort = async () => {
    for (const port of sentinelPorts) {
      const addr = await ask<[string, string] | null>(port, 'get-master-addr-by-name', name).catch(() => null);
      if (addr) return Number(addr[1]);
    }
    throw new Error('no sentinel reports a primary');
  };
  const stop = async () => {
    await Promise.all([...procs.values()].map((p) => kill(p)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A failover needs a majority of sentinels that know each other and a replica they know of.
    await until(10_000, async () => {
      for (const port of sentinelPorts) {
        const fields = await ask<string[]>(port, 'master', name);
        const info = Object.fromEntries(fields.flatMap((v, i) => (i % 2 ? [] : [[v, fields[i + 1]]])));
        if (info['num-other-sentinels'] !== '2' || info['num-slaves'] !== '1') return false;
      }
      return true;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name,
    sentinelsSetting: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    sentinelPorts,
    primaryPort,
    async cutReplica() {
      const frozen = procs.get(replica)!;
      frozen.kill('SIGSTOP');
      const r = new Redis(primary, '127.0.0.1', {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      r.on('error', () => undefined);
      try {
        await r.connect();
        await r.call('CLIENT', 'KILL', 'TYPE', 'replica');
      } finally {
        r.disconnect();
      }
      return () => void frozen.kill('SIGCONT');
    },
    async kill(port) {
      const p = procs.get(port);
      if (p) await kill(p);
    },
    async waitForFailover(oldPort, timeoutMs) {
      let now = oldPort;
      await until(timeoutMs, async () => (now = await primaryPort().catch(() => oldPort)) !== oldPort);
      return now;
    },
    stop,
  };
}

async function until(timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function launch(bin: string, args: string[], port: number): Promise<ChildProcess> {
  const proc = spawn(bin, args, { stdio: 'ignore' });
  await until(10_000, async () => {
    if (proc.exitCode !== null) throw new Error(`${bin} exited with ${proc.exitCode}`);
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      await r.ping();
      return true;
    } finally {
      r.disconnect();
    }
  });
  return proc;
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}
