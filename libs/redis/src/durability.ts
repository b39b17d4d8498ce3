import type Redis from 'ioredis';
import { VisionError } from '@vision/wire';

/** How `persistWrites` made the writes before it durable. */
export interface PersistReport {
  /** `aof-rewrite`: an AOF rewrite that began after the writes finished; `rdb-snapshot`: a BGSAVE that did. */
  disk: 'aof-rewrite' | 'rdb-snapshot';
  /** Replicas that acknowledged the writes (`WAIT`); every connected one must. */
  replicas: number;
}

export interface PersistOptions {
  /** How long the snapshot or rewrite and the replicas may take before the call fails. */
  timeoutMs: number;
}

/**
 * One way of getting a fresh, fsynced copy on disk. The two kinds differ only in their command and
 * the INFO fields that report it, so each is a row here rather than a branch at every step.
 */
interface DiskCopy {
  kind: PersistReport['disk'];
  command: 'bgrewriteaof' | 'bgsave';
  /** Counts copies started (it moves when the fork happens, so a copy counted after the writes holds them). */
  started: string;
  inProgress: string;
  /** Set while a copy waits for another child to finish (AOF only; a scheduled BGSAVE has no field). */
  scheduled?: string;
  status: string;
}

const AOF_REWRITE: DiskCopy = {
  kind: 'aof-rewrite',
  command: 'bgrewriteaof',
  started: 'aof_rewrites',
  inProgress: 'aof_rewrite_in_progress',
  scheduled: 'aof_rewrite_scheduled',
  status: 'aof_last_bgrewrite_status',
};
const RDB_SNAPSHOT: DiskCopy = {
  kind: 'rdb-snapshot',
  command: 'bgsave',
  started: 'rdb_saves',
  inProgress: 'rdb_bgsave_in_progress',
  status: 'rdb_last_bgsave_status',
};

/** How often INFO persistence is read while the copy is written: a revocation waits on it, not a camera. */
const POLL_MS = 50;
/** WAIT is asked in slices so the overall timeout holds however many replicas answer late. */
const WAIT_SLICE_MS = 1000;

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

async function info(redis: Redis, section: string): Promise<Map<string, string>> {
  return parseInfo(await redis.info(section));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Returns once every write this connection made before the call is on the Redis' disk and on each
 * of its connected replicas; throws `E_UNAVAILABLE` otherwise (the writes stand, but are not
 * promised to survive).
 *
 * Redis 7.0 has no `WAITAOF`, and with `appendfsync everysec` its reply comes before the fsync, so
 * the reply alone promises nothing against a power cut. A background AOF rewrite (or, without AOF,
 * a BGSAVE) forked after the writes is fsynced before Redis reports it done, and it is what a
 * restart loads: that is the confirmation. The copy holds the whole data set, so this is for rare,
 * small writes that must not be lost (revocations), on a state Redis that holds no frames.
 */
export async function persistWrites(redis: Redis, opts: PersistOptions): Promise<PersistReport> {
  const deadline = Date.now() + opts.timeoutMs;
  const persistence = await info(redis, 'persistence');
  const copy = persistence.get('aof_enabled') === '1' ? AOF_REWRITE : RDB_SNAPSHOT;
  await startCopy(redis, copy, Number(persistence.get(copy.started) ?? 0), deadline);
  const replicas = await waitForReplicas(redis, deadline);
  return { disk: copy.kind, replicas };
}

/** Starts a copy forked after now (retrying while one forked earlier runs) and waits for it to finish. */
async function startCopy(redis: Redis, copy: DiskCopy, startedBefore: number, deadline: number): Promise<void> {
  for (;;) {
    try {
      // SCHEDULE: a BGSAVE behind a running AOF rewrite waits for it instead of failing.
      await (copy.command === 'bgsave' ? redis.bgsave('SCHEDULE') : redis.bgrewriteaof());
      break;
    } catch (err) {
      // Another copy of the same kind is running; it may have forked before the writes, so wait and start ours.
      if (!/already in progress/i.test((err as Error).message)) throw unconfirmed(`${copy.command} failed`, err);
      if (Date.now() > deadline) throw unconfirmed(`${copy.command} stayed busy`);
      await sleep(POLL_MS);
    }
  }
  for (;;) {
    const fields = await info(redis, 'persistence');
    const started = Number(fields.get(copy.started) ?? 0);
    const busy = fields.get(copy.inProgress) === '1' || (copy.scheduled && fields.get(copy.scheduled) === '1');
    if (started > startedBefore && !busy) {
      if (fields.get(copy.status) !== 'ok')
        throw unconfirmed(`the ${copy.kind} failed (${copy.status}:${fields.get(copy.status)})`);
      return;
    }
    if (Date.now() > deadline) throw unconfirmed(`the ${copy.kind} did not finish in time`);
    await sleep(POLL_MS);
  }
}

async function waitForReplicas(redis: Redis, deadline: number): Promise<number> {
  const connected = Number((await info(redis, 'replication')).get('connected_slaves') ?? 0);
  if (connected === 0) return 0;
  for (;;) {
    // Short WAITs: each stays inside the connection's command timeout.
    const acked = Number(await redis.wait(connected, Math.min(WAIT_SLICE_MS, Math.max(1, deadline - Date.now()))));
    if (acked >= connected) return acked;
    if (Date.now() > deadline) throw unconfirmed(`${acked} of ${connected} replicas acknowledged in time`);
  }
}

function unconfirmed(reason: string, cause?: unknown): VisionError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new VisionError('E_UNAVAILABLE', `written, but not confirmed durable: ${reason}${detail}`, { cause });
}
