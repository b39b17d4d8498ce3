import type Redis from 'ioredis';

/** The log line's stable code: alerts and runbooks match on it (docs/troubleshooting.md). */
export const STATE_NOT_PERSISTENT = 'E_STATE_NOT_PERSISTENT';

export interface PersistenceFinding {
  code: typeof STATE_NOT_PERSISTENT;
  /** The Redis settings that keep nothing on disk, as `CONFIG GET` names them. */
  settings: Record<string, string>;
  message: string;
}

/**
 * What a state Redis keeps across a restart: a finding when it keeps nothing (`appendonly no` and
 * `save ""`), undefined when it keeps its data or is not up yet. Managed Redis often disables
 * CONFIG: then INFO's `aof_enabled` alone decides, and without AOF the finding says `save` could
 * not be read.
 */
export async function findStatePersistence(redis: Redis): Promise<PersistenceFinding | undefined> {
  if (redis.status !== 'ready') return undefined;
  const where = `${redis.options.host}:${redis.options.port}`;
  let settings: Record<string, string>;
  try {
    const read = async (name: string) => String(((await redis.config('GET', name)) as string[])[1] ?? '');
    settings = { appendonly: await read('appendonly'), save: await read('save') };
  } catch {
    if (/aof_enabled:1/.test(await redis.info('persistence'))) return undefined;
    return {
      code: STATE_NOT_PERSISTENT,
      settings: { appendonly: 'no', save: 'unknown (CONFIG is disabled)' },
      message:
        `the state Redis ${where} has appendonly off, and its save setting cannot be read: if it takes no ` +
        'snapshots, a restart of it loses rules, counts, events, revocations and jobs; ' +
        'set appendonly yes (docs/backup.md)',
    };
  }
  if (settings.appendonly !== 'no' || settings.save !== '') return undefined;
  return {
    code: STATE_NOT_PERSISTENT,
    settings,
    message:
      `the state Redis ${where} keeps nothing on disk (appendonly no, save ""): a restart of it loses rules, ` +
      'counts, events, revocations and jobs; set appendonly yes (docs/backup.md)',
  };
}
