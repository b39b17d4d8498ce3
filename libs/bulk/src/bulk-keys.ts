/** Every Redis key of bulk jobs, under the service prefix (BullMQ's own keys live under `<prefix>:bull`). */
export function bulkKeys(prefix: string) {
  const job = (id: string) => `${prefix}:bulk:job:${id}`;
  return {
    /** Hash: tenant, model, total, done, failed, state, timestamps, webhook. */
    job,
    /** Hash: image index → encoded bytes (raw, never base64), deleted when the job ends. */
    images: (id: string) => `${job(id)}:img`,
    /** Hash: image index → result JSON, written once per index (HSETNX). */
    results: (id: string) => `${job(id)}:res`,
    /** Zset: unfinished job id → expiry (ms); with `storedBytes` and `bytesByJob`, the byte budget. */
    stored: `${prefix}:bulk:stored`,
    storedBytes: `${prefix}:bulk:bytes`,
    bytesByJob: `${prefix}:bulk:jobbytes`,
    /** Zset: one tenant's unfinished job ids → expiry. */
    tenantJobs: (tenant: string) => `${prefix}:bulk:tenant:${tenant}`,
    /** BullMQ key prefix. */
    bull: `${prefix}:bull`,
  };
}

export type BulkKeys = ReturnType<typeof bulkKeys>;

/** One BullMQ queue per model: a worker takes only jobs for models it serves. */
export const jobQueueName = (model: string) => `bulk-${model}`;
export const WEBHOOK_QUEUE = 'webhooks';
