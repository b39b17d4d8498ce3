import { join } from 'node:path';
import { defineScript } from '@vision/redis';

const dir = join(__dirname, '..', 'lua');

/** The bulk store's Lua scripts (`libs/bulk/lua/`), keys and arguments named once. */
export const bulkScripts = {
  reserve: defineScript(dir, {
    name: 'reserve-job',
    keys: ['stored', 'storedBytes', 'tenantJobs', 'bytesByJob'],
    args: ['now', 'expiresAt', 'id', 'bytes', 'maxStoredBytes', 'maxJobsPerTenant'],
  }),
  release: defineScript(dir, {
    name: 'release-job',
    keys: ['stored', 'storedBytes', 'tenantJobs', 'bytesByJob'],
    args: ['id'],
  }),
  resize: defineScript(dir, { name: 'resize-job', keys: ['storedBytes', 'bytesByJob'], args: ['id', 'bytes'] }),
  record: defineScript(dir, {
    name: 'record-result',
    keys: ['results', 'job'],
    args: ['index', 'result', 'counter', 'ttlMs'],
  }),
};
