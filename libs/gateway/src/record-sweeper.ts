import type { Logger } from 'pino';
import type { GatewayConfig } from '@vision/config';
import type { GatewayMetrics } from '@vision/metrics';
import { RecordingSweeper } from '@vision/recording';

/** GATEWAY_RECORD_RETENTION_HOURS is in hours; the sweep takes milliseconds. */
const MS_PER_HOUR = 3_600_000;
/**
 * How often the folder is swept. Each pass lists every camera's folder (a day of 2 s segments is
 * 43 200 names), so not every segment; the budget may be passed by up to this long of writes.
 */
const SWEEP_EVERY_MS = 10_000;

/**
 * The retention sweep of GATEWAY_RECORD_DIR, every SWEEP_EVERY_MS: segments older than
 * GATEWAY_RECORD_RETENTION_HOURS go, then the oldest while the total is over GATEWAY_RECORD_MAX_BYTES.
 * Sweeps never overlap; a failed one is logged and counted, and the next one tries again. Returns
 * the stop function (it waits for a sweep in progress).
 */
export function startRecordSweeper(
  config: GatewayConfig['record'],
  metrics: GatewayMetrics,
  log: Logger,
): () => Promise<void> {
  const dir = config.dir;
  if (!dir) return () => Promise.resolve();
  const sweeper = new RecordingSweeper({
    dir,
    retentionMs: config.retentionHours * MS_PER_HOUR,
    maxBytes: config.maxBytes,
  });
  let running: Promise<void> | undefined;
  const sweep = () => {
    if (running) return;
    running = sweeper
      .sweep()
      .then((r) => {
        metrics.recordBytes.set(r.bytes);
        metrics.recordSegments.set(r.files);
        metrics.recordDeleted.inc({ reason: 'retention' }, r.deleted.retention);
        metrics.recordDeleted.inc({ reason: 'budget' }, r.deleted.budget);
        if (r.failures) {
          metrics.recordFailures.inc(r.failures);
          log.warn({ failures: r.failures }, 'recorded segments could not be deleted');
        }
        if (r.deleted.retention + r.deleted.budget)
          log.debug({ ...r.deleted, bytes: r.bytes, files: r.files }, 'recordings swept');
      })
      .catch((err: NodeJS.ErrnoException) => {
        metrics.recordFailures.inc();
        log.error({ err: err.code ?? err.message }, 'the recording sweep failed');
      })
      .finally(() => {
        running = undefined;
      });
  };
  sweep();
  const timer = setInterval(sweep, SWEEP_EVERY_MS);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
