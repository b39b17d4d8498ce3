import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './redis-server';

/** A redis-server on its own data directory, killed for real and started again on the same files. */
export interface PersistentRedis {
  url: string;
  /** Its `dir`: the AOF directory and dump.rdb live here. */
  dir: string;
  /** SIGKILL: no shutdown save, no final fsync; what survives is what was on disk. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (after `kill`). */
  start(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

/**
 * `persistence`: the server's persistence arguments as a site would set them, e.g.
 * `['--appendonly', 'yes', '--appendfsync', 'everysec']`, or `['--appendonly', 'no', '--save', '']`.
 */
export async function startPersistentRedis(persistence: string[]): Promise<PersistentRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redis-data-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...persistence];
  let proc = await launch(port, args);
  return {
    url: `redis://127.0.0.1:${port}`,
    dir,
    kill: () => kill(proc),
    async start() {
      proc = await launch(port, args);
    },
    async stop() {
      await kill(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function launch(port: number, args: string[]): Promise<ChildProcess> {
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const probe = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      // Answers only once the data set is loaded (LOADING errors before).
      await probe.dbsize();
      probe.disconnect();
      return proc;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
}
