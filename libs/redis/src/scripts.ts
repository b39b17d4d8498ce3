import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';

/** Names of a script's KEYS and ARGV, in the order the `.lua` file reads them. */
export interface ScriptSpec<K extends string, A extends string> {
  /** File stem in the library's `lua/` folder. */
  name: string;
  keys: readonly K[];
  args: readonly A[];
  /** Whether more keys and arguments (one per item, e.g. per frame) follow the named ones. */
  variadic?: boolean;
}

/** Keys and arguments beyond the named ones, for variadic scripts. */
export interface ScriptRest {
  keys: readonly string[];
  args: readonly (string | number)[];
}

type Arg = string | number | Buffer;
type Call = (...a: Arg[]) => Promise<unknown>;

/** A Lua script bound to its key and argument names: callers pass both by name, once. */
export interface Script<K extends string, A extends string> {
  readonly name: string;
  /** Defines the command on a connection (before any `multi()` that queues it); idempotent. */
  define(redis: Redis): void;
  run(redis: Redis, keys: Record<K, string>, args: Record<A, Arg>, rest?: ScriptRest): Promise<unknown>;
  /** Queues a call in a MULTI/pipeline of a connection the script is defined on. */
  queue(pipe: ChainableCommander, keys: Record<K, string>, args: Record<A, Arg>, rest?: ScriptRest): void;
}

/**
 * Loads `<dir>/<name>.lua` once and returns a typed caller, in the manner of BullMQ's scripts: the
 * key count and the order of KEYS and ARGV are stated in one place instead of at every call.
 * ioredis sends EVALSHA and falls back to EVAL after a Redis restart.
 */
export function defineScript<K extends string, A extends string>(dir: string, spec: ScriptSpec<K, A>): Script<K, A> {
  const lua = readFileSync(join(dir, `${spec.name}.lua`), 'utf8');
  const command = `vision_${spec.name.replace(/[^A-Za-z0-9]/g, '_')}`;
  const defined = new WeakSet<Redis>();
  const argv = (keys: Record<K, string>, args: Record<A, Arg>, rest?: ScriptRest): Arg[] => {
    const k = [...spec.keys.map((n) => keys[n]), ...(rest?.keys ?? [])];
    const a = [...spec.args.map((n) => args[n]), ...(rest?.args ?? [])];
    return spec.variadic ? [k.length, ...k, ...a] : [...k, ...a];
  };
  const define = (redis: Redis) => {
    if (defined.has(redis)) return;
    redis.defineCommand(command, spec.variadic ? { lua } : { numberOfKeys: spec.keys.length, lua });
    defined.add(redis);
  };
  return {
    name: spec.name,
    define,
    run(redis, keys, args, rest) {
      define(redis);
      return (redis as unknown as Record<string, Call>)[command].call(redis, ...argv(keys, args, rest));
    },
    queue(pipe, keys, args, rest) {
      const call = (pipe as unknown as Record<string, Call | undefined>)[command];
      if (!call) throw new Error(`script ${spec.name} is not defined on the connection this pipeline came from`);
      void call.call(pipe, ...argv(keys, args, rest));
    },
  };
}
