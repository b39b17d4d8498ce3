import type { Logger } from 'pino';
import type { AppConfig } from '@vision/config';
import { probeRedisTarget } from '@vision/redis';
import { VisionError } from '@vision/wire';

/**
 * Start-up check of the sentinel targets a role connects to (frames and state; URL targets have
 * none). A master name the sentinels do not monitor stops the role with `E_CONFIG`. No sentinel
 * answering is `E_UNAVAILABLE`: logged once here, then the role starts not ready and its
 * connections keep asking the sentinels (their failures go to the outage log, not one line each).
 */
export async function checkRedisTargets(
  config: Pick<AppConfig, 'redisTarget' | 'stateRedisTarget' | 'redisSetting' | 'stateRedisSetting'>,
  log: Logger,
): Promise<void> {
  const targets = [
    { target: config.redisTarget, setting: config.redisSetting },
    { target: config.stateRedisTarget, setting: config.stateRedisSetting },
  ];
  const seen = new Set<string>();
  for (const { target, setting } of targets) {
    if (target === undefined || typeof target === 'string' || seen.has(target.name)) continue;
    seen.add(target.name);
    try {
      await probeRedisTarget(target, setting);
    } catch (err) {
      if (!(err instanceof VisionError) || err.code !== 'E_UNAVAILABLE') throw err;
      log.error({ code: err.code, err: err.message }, 'Redis Sentinel unreachable; not ready until a sentinel answers');
    }
  }
}
