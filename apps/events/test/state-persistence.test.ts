import { afterEach, describe, expect, it } from 'vitest';
import { startPersistentRedis, startService, type PersistentRedis, type ServiceProcess } from '@vision/testing';

const NO_DISK = ['--appendonly', 'no', '--save', ''];

/**
 * In production (NODE_ENV=production, as the images set it) the events service warns once at start-up
 * when its state Redis keeps nothing on disk, naming the Redis setting, with a stable code.
 */
describe('a state Redis without persistence', () => {
  let redis: PersistentRedis | undefined;
  let events: ServiceProcess | undefined;
  afterEach(async () => {
    await events?.kill('SIGKILL');
    await redis?.stop();
    events = redis = undefined;
  });
  const start = async (redisArgs: string[], env: Record<string, string>) => {
    redis = await startPersistentRedis(redisArgs);
    events = await startService('events', { REDIS_URL: redis.url, REDIS_PREFIX: 'site', ...env });
    return events.logs.filter((line) => line['code'] === 'E_STATE_NOT_PERSISTENT');
  };

  it('is warned of once in production, naming appendonly and save', async () => {
    const warnings = await start(NO_DISK, { NODE_ENV: 'production' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, settings: { appendonly: 'no', save: '' } });
    expect(warnings[0]['msg']).toContain('set appendonly yes');
  });

  it('is not warned of outside production, nor when AOF is on', async () => {
    expect(await start(NO_DISK, {})).toEqual([]);
    await events!.kill('SIGKILL');
    await redis!.stop();
    expect(await start(['--appendonly', 'yes'], { NODE_ENV: 'production' })).toEqual([]);
  });

  it('is warned of when CONFIG is disabled and AOF is off (save cannot be read)', async () => {
    const warnings = await start([...NO_DISK, '--rename-command', 'CONFIG', ''], { NODE_ENV: 'production' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]['settings']).toMatchObject({ appendonly: 'no', save: expect.stringContaining('CONFIG') });
  });
});
