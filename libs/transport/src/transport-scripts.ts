import { join } from 'node:path';
import { defineScript } from '@vision/redis';

const dir = join(__dirname, '..', 'lua');

/** The transport's Lua scripts (`libs/transport/lua/`), keys and arguments named once. */
export const transportScripts = {
  submit: defineScript(dir, {
    name: 'submit',
    keys: ['stream', 'tenantOpen', 'activeTenants', 'bytesWaiting', 'tenantRate', 'workers'],
    args: [
      'group',
      'maxQueue',
      'maxLen',
      'meta',
      'image',
      'now',
      'expiresAt',
      'tenant',
      'member',
      'tenantMaxQueue',
      'maxQueueBytes',
      'bytes',
      'tenantFramesPerSecond',
      'liveSince',
      'cost',
    ],
  }),
  /** Variadic: one tenant-open key and one member per finished frame follow. */
  release: defineScript(dir, { name: 'release', keys: ['bytesWaiting'], args: ['bytes'], variadic: true }),
  /** Variadic: the connection sets (address, subject) follow as keys, their limits as arguments. */
  acquireConnection: defineScript(dir, {
    name: 'acquire-connection',
    keys: [],
    args: ['now', 'expiresAt', 'connId'],
    variadic: true,
  }),
};

/** A frame's entry in its tenant's open set: the cost travels with it so the share is summed in cost units. */
export function openMember(job: { key: string; cost: number }): string {
  return `${job.cost}:${job.key}`;
}
