import { join } from 'node:path';
import { defineScript } from '@vision/redis';

const dir = join(__dirname, '..', 'lua');

/** This library's Lua scripts (`libs/events/lua/`), each with its keys and arguments named once. */
export const eventsScripts = {
  commit: defineScript(dir, {
    name: 'events-commit',
    keys: ['lease', 'checkpoint', 'events', 'counts'],
    args: ['token', 'pos', 'maxLen', 'states', 'deletes', 'events', 'counts'],
    variadic: true,
  }),
  acquire: defineScript(dir, { name: 'events-acquire', keys: ['lease'], args: ['token', 'ttlMs'] }),
  renew: defineScript(dir, { name: 'events-renew', keys: ['lease'], args: ['token', 'ttlMs'] }),
  release: defineScript(dir, { name: 'events-release', keys: ['lease'], args: ['token'] }),
  cursor: defineScript(dir, { name: 'events-cursor', keys: ['lease', 'checkpoint'], args: ['token', 'field', 'id'] }),
};
