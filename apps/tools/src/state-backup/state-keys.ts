import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';

/** The tallies a backup's manifest holds, compared again after a restore. */
export const TALLIES = ['keys', 'events', 'rules', 'counts', 'checkpoints', 'revocations', 'bulkJobs'] as const;
export type Tally = (typeof TALLIES)[number];
export type Tallies = Record<Tally, number>;

/** How one kind of key adds to a tally: a command queued beside its DUMP, and what its reply counts. */
interface Counter {
  tally: Exclude<Tally, 'keys'>;
  queue(pipe: ChainableCommander, key: string): void;
  read(reply: unknown): number;
}

const oneEach = (tally: Counter['tally']): Counter => ({
  tally,
  queue: (pipe, key) => void pipe.exists(key),
  read: (reply) => Number(reply),
});
const byCommand = (tally: Counter['tally'], command: 'xlen' | 'hlen' | 'zcard'): Counter => ({
  tally,
  queue: (pipe, key) => void pipe[command](key),
  read: (reply) => Number(reply),
});

/** A family of state keys, by its name under the site's prefix. */
interface StateFamily {
  name: RegExp;
  counter?: Counter;
}

/**
 * The keys that are the site's state (docs/backup.md): what a backup captures and a restore
 * replaces. Everything else under the prefix (frame streams, results streams, worker heartbeats,
 * connection leases, rate buckets, the events service's shard leases and live instances) is
 * rebuilt by the running roles within seconds and is not captured.
 */
const STATE_FAMILIES: readonly StateFamily[] = [
  { name: /^schema-version$/ },
  { name: /^revoked$/, counter: byCommand('revocations', 'zcard') },
  { name: /^revoked:exp$/ },
  { name: /^events:stream:\d+$/, counter: byCommand('events', 'xlen') },
  { name: /^events:ckpt:\d+$/, counter: oneEach('checkpoints') },
  { name: /^events:counts$/, counter: byCommand('counts', 'hlen') },
  // One field per rule set through the API.
  { name: /^events:rules$/, counter: byCommand('rules', 'hlen') },
  { name: /^events:rules-version$/ },
  { name: /^events:seen$/ },
  { name: /^events:classes:.+$/ },
  { name: /^bulk:job:[^:]+$/, counter: oneEach('bulkJobs') },
  { name: /^bulk:.+$/ },
  { name: /^bull:.+$/ },
];

function familyOf(name: string): StateFamily | undefined {
  return STATE_FAMILIES.find((family) => family.name.test(name));
}

/** Whether `name` (under the prefix) is state. */
export function isStateKey(name: string): boolean {
  return familyOf(name) !== undefined;
}

export function emptyTallies(): Tallies {
  return Object.fromEntries(TALLIES.map((tally) => [tally, 0])) as Tallies;
}

/**
 * Queues the tally commands of `names` (under the prefix) on `pipe`, and returns what reads their
 * replies, in the order they were queued.
 */
export function queueTallies(
  pipe: ChainableCommander,
  prefix: string,
  names: readonly string[],
): (replies: unknown[]) => Tallies {
  const counters = names.map((name) => familyOf(name)?.counter);
  for (const [i, counter] of counters.entries()) counter?.queue(pipe, `${prefix}:${names[i]}`);
  return (replies) => {
    const tallies = emptyTallies();
    tallies.keys = names.length;
    let next = 0;
    for (const counter of counters) if (counter) tallies[counter.tally] += counter.read(replies[next++]);
    return tallies;
  };
}

/** The state keys under `prefix` now, by their names under it (SCAN: never blocks the server). */
export async function scanStateKeys(redis: Redis, prefix: string): Promise<string[]> {
  const names = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const name = key.slice(prefix.length + 1);
      if (isStateKey(name)) names.add(name);
    }
  } while (cursor !== '0');
  return [...names].sort();
}
