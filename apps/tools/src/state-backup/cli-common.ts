import type Redis from 'ioredis';
import type { Command } from 'commander';
import { loadConfig, type Env } from '@vision/config';
import { createRedis, requireRedis7 } from '@vision/redis';
import { isErrorCode, VisionError } from '@vision/wire';

/** The file options backup and restore share. */
export function withFileOptions(command: Command): Command {
  return command
    .option('--cameras-file <path>', "the gateway's cameras file (default: CAMERAS_FILE)")
    .option('--site-file <path>', "the events service's site file (default: EVENTS_SITE_FILE)")
    .option('--dotenv <path>', "the site's .env (default: .env in the working directory)");
}

/**
 * The site's state Redis (REDIS_URL) and prefix. No command timeout: one RESTORE or DUMP of a large
 * events stream may take longer than the services' limit.
 */
export async function connectState(env: Env, tool: string): Promise<{ redis: Redis; prefix: string }> {
  const config = loadConfig(env);
  if (!config.redisUrl) throw new Error(`${tool} needs REDIS_URL: the site's state lives in Redis`);
  const redis = createRedis(config.redisUrl, { name: tool, blocking: true });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new VisionError('E_UNAVAILABLE', `${tool} cannot reach REDIS_URL: ${(err as Error).message}`, { cause: err });
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
