import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, killRedisServer, launchRedisServer } from './redis-server';

/** A redis-server that keeps its data: the shipped state Redis's persistence, in a directory of its own. */
export interface PersistentRedis {
  url: string;
  /** Its data directory: the append-only files (`appendonlydir/`) and snapshots. */
  dir: string;
  pid(): number | undefined;
  /** SIGKILL: no shutdown save; what reached the files is all that comes back. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory; resolves once it has loaded its data and answers. */
  start(): Promise<void>;
  /** Bytes of the append-only files (base, increments and manifest of Redis 7's multi-part AOF). */
  aofBytes(): number;
  /** Kills it and deletes its directory. */
  stop(): Promise<void>;
}

/** The shipped state Redis's persistence (deploy/k8s/redis-state-values.yaml, docker-compose.yml). */
export const STATE_REDIS_PERSISTENCE = [
  ...['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '3600 1 300 100 60 10000'],
  ...['--maxmemory-policy', 'noeviction'],
];

/**
 * A redis-server in a data directory of its own, killed for real and started again on its files.
 * `persistence`: its persistence arguments as a site would set them; by default the state Redis of
 * docs/architecture.md, e.g. `['--appendonly', 'no', '--save', '']` for one without.
 */
export async function startPersistentRedis(persistence: string[] = STATE_REDIS_PERSISTENCE): Promise<PersistentRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'state-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...persistence];
  let proc: ChildProcess | undefined;
  const kill = () => killRedisServer(proc);
  const start = async () => {
    proc = await launchRedisServer(port, args);
  };
  const aofDir = join(dir, 'appendonlydir');
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    dir,
    pid: () => proc?.pid,
    kill,
    start,
    aofBytes: () => readdirSync(aofDir).reduce((n, f) => n + statSync(join(aofDir, f)).size, 0),
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
