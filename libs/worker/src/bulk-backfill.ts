import type { Logger } from 'pino';
import { BulkJobs, BulkRunner, BulkSource, jobQueueName } from '@vision/bulk';
import { providerDefaults, type AppConfig, type ModelSpec } from '@vision/config';
import type { VisionMetrics } from '@vision/metrics';
import type { RedisConnectionOptions } from '@vision/redis';

/**
 * How bulk images share batches with real-time frames (BULK_MAX_BATCH, BULK_TOPUP, BULK_YIELD;
 * defaults by provider).
 */
export function backfillPolicy(
  config: AppConfig,
  spec: ModelSpec,
): { backfillMaxBatch: number; backfillTopUp: boolean; backfillYield: boolean } {
  const byProvider = providerDefaults(spec.executionProvider);
  return {
    backfillMaxBatch: Math.min(spec.maxBatch, config.bulk.maxBatch ?? byProvider.bulkMaxBatch(spec.maxBatch)),
    backfillTopUp: config.bulk.topUp ?? byProvider.bulkTopUp,
    backfillYield: config.bulk.yieldToLive,
  };
}

/** Bulk jobs on this worker: one BulkSource and BullMQ worker per served model, and webhook delivery. */
export function startBulk(
  config: AppConfig,
  log: Logger,
  health: { onState: RedisConnectionOptions['onState']; report: (where: string, err: Error) => void },
  metrics: VisionMetrics | undefined,
) {
  const jobs = new BulkJobs(config.stateRedisTarget!, config.redisPrefix, config.bulk, health.onState);
  const runner = new BulkRunner(jobs, config.bulk, log, health.report);
  const { webhookSecret, webhookPreviousSecret } = config.bulk;
  runner.deliverWebhooks([webhookSecret, webhookPreviousSecret].filter((s) => s !== undefined));
  const sources = new Map<string, BulkSource>();
  metrics?.observeBulk(async () => {
    const jobsByState: Record<string, number> = { waiting: 0, active: 0, delayed: 0, failed: 0 };
    for (const model of sources.keys()) {
      const counts = await jobs.queue(jobQueueName(model)).getJobCounts('waiting', 'active', 'delayed', 'failed');
      for (const [state, n] of Object.entries(counts)) jobsByState[state] = (jobsByState[state] ?? 0) + n;
    }
    return { jobs: jobsByState, storedBytes: await jobs.storedBytes() };
  });
  return {
    source(model: string): BulkSource {
      let s = sources.get(model);
      if (!s) {
        sources.set(model, (s = new BulkSource(jobs)));
        runner.serve(model, s);
      }
      return s;
    },
    async unserve(model: string): Promise<void> {
      const s = sources.get(model);
      if (!s) return;
      sources.delete(model);
      await runner.close([s], model);
    },
    async close(): Promise<void> {
      await runner.close([...sources.values()]);
      await jobs.close();
    },
  };
}
