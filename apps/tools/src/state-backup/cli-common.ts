import type Redis from 'ioredis';
import type { Command } from 'commander';
import { loadConfig, type Env } from '@vision/config';
import { createRedis, probeRedisTarget, requireRedis7 } from '@vision/redis';
import { isErrorCode, VisionError } from '@vision/wire';

/** The file options backup and restore share. */
export function withFileOptions(command: Command): Command {
  return command
    .option('--cameras-file <path>', "the gateway's cameras file (default: CAMERAS_FILE)")
    .option('--site-file <path>', "the events service's site file (default: EVENTS_SITE_FILE)")
    .option('--dotenv <path>', "the site's .env (default: .env in the working directory)");
}

/**
 * The site's state Redis (STATE_REDIS_URL, the first REDIS_URL, or the state master behind the
 * sentinels) and prefix. No command timeout: one RESTORE or DUMP of a large events stream may take
 * longer than the services' limit.
 */
export async function connectState(env: Env, tool: string): Promise<{ redis: Redis; prefix: string }> {
  const config = loadConfig(env);
  const target = config.stateRedisTarget;
  if (!target)
    throw new Error(`${tool} needs STATE_REDIS_URL, REDIS_URL or REDIS_SENTINELS: the site's state lives in Redis`);
  await probeRedisTarget(target, config.stateRedisSetting);
  const redis = createRedis(target, { name: tool, blocking: true });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const where = config.stateRedisSetting;
    throw new VisionError('E_UNAVAILABLE', `${tool} cannot reach ${where}: ${(err as Error).message}`, { cause: err });
  }
  await requireRedis7(redis);
  return { redis, prefix: config.redisPrefix };
}

/** Prints `<tool>: <code>: <message>` and exits 2: the code is stable, the message says what to do. */
export function exitWith(tool: string, err: unknown): never {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  console.error(`${tool}: ${isErrorCode(code) ? `${code}: ` : ''}${message}`);
  process.exit(2);
}
