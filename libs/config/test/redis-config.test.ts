import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src';

const sentinels = { REDIS_SENTINELS: 'sentinel-1:26379, 10.0.0.7:26380' };

describe('Redis Sentinel settings', () => {
  it('resolves the frames and state masters through the same sentinels', () => {
    const one = loadConfig({ ...sentinels, REDIS_SENTINEL_NAME: 'vision' });
    const addresses = [
      { host: 'sentinel-1', port: 26379 },
      { host: '10.0.0.7', port: 26380 },
    ];
    expect(one.redisTarget).toEqual({ sentinels: addresses, name: 'vision' });
    expect(one.redisTargets).toEqual([one.redisTarget]);
    // A one-Redis site: state shares the frames master.
    expect(one.stateRedisTarget).toEqual({ sentinels: addresses, name: 'vision' });
    const split = loadConfig({
      ...sentinels,
      REDIS_SENTINEL_NAME: 'frames',
      STATE_REDIS_SENTINEL_NAME: 'state',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_PASSWORD: 'redis-secret',
    });
    expect(split.redisTarget).toMatchObject({ name: 'frames', sentinelPassword: 'sentinel-secret' });
    expect(split.stateRedisTarget).toMatchObject({ name: 'state', password: 'redis-secret' });
    expect(split.stateRedisSetting).toBe('STATE_REDIS_SENTINEL_NAME');
  });

  it('refuses combinations that make no sense, naming the setting', () => {
    expect(() => loadConfig(sentinels)).toThrow(/REDIS_SENTINEL_NAME: required with REDIS_SENTINELS/);
    expect(() => loadConfig({ ...sentinels, REDIS_SENTINEL_NAME: 'v', REDIS_URL: 'redis://a:6379' })).toThrow(
      /REDIS_URL \/ REDIS_SENTINELS: set one/,
    );
    expect(() => loadConfig({ REDIS_URL: 'redis://a:6379', STATE_REDIS_SENTINEL_NAME: 's' })).toThrow(
      /STATE_REDIS_SENTINEL_NAME: only used with REDIS_SENTINELS/,
    );
    expect(() => loadConfig({ REDIS_SENTINELS: 'sentinel-1', REDIS_SENTINEL_NAME: 'v' })).toThrow(
      /REDIS_SENTINELS: host:port expected/,
    );
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:70000', REDIS_SENTINEL_NAME: 'v' })).toThrow(/REDIS_SENTINELS: port/);
    expect(() => loadConfig({ ...sentinels, REDIS_SENTINEL_NAME: 'no spaces' })).toThrow(/REDIS_SENTINEL_NAME/);
    expect(() => loadConfig(sentinels)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
  });
});
