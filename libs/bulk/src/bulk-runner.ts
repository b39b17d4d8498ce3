import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { BulkConfig } from '@vision/config';
import type { BulkJobs } from './bulk-jobs';
import { jobQueueName, WEBHOOK_QUEUE } from './bulk-keys';
import type { BulkSource } from './bulk-source';
import { postSignedWebhook } from '@vision/webhooks';
import type { VisionError } from '@vision/wire';

/**
 * The worker side of bulk jobs: one BullMQ worker per served model's queue feeding that model's
 * `BulkSource`, and one delivering webhooks. BullMQ brings the job life cycle: a job whose worker
 * dies stops renewing its lock and is taken over (stalled-job recovery); the new run skips the
 * images that already have a result.
 */
export class BulkRunner {
  private readonly workers = new Map<string, Worker>();

  constructor(
    private readonly jobs: BulkJobs,
    private readonly cfg: BulkConfig,
    private readonly log: Logger,
    /** Queue and connection failures: the process's outage log decides what is worth a line. */
    private readonly report: (where: string, err: Error) => void,
  ) {}

  serve(model: string, source: BulkSource): void {
    const w = new Worker(
      jobQueueName(model),
      (job: Job<{ id: string }>, token?: string) => this.process(job, source, token),
      this.options(this.cfg.jobConcurrency),
    );
    w.on('error', (err) => this.report(`bulk queue ${model}`, err));
    this.workers.set(model, w);
  }

  /** Webhooks go out from every worker process; BullMQ retries them with exponential backoff. */
  /** `secrets`: BULK_WEBHOOK_SECRET, then during a rotation BULK_WEBHOOK_SECRET_PREVIOUS; empty: not set. */
  deliverWebhooks(secrets: readonly string[]): void {
    const w = new Worker(
      WEBHOOK_QUEUE,
      async (job: Job<{ url: string; body: string }>) => {
        if (!secrets.length) throw new Error('BULK_WEBHOOK_SECRET is not set on this worker');
        try {
          await postSignedWebhook(job.data.url, job.data.body, secrets, {
            hosts: this.cfg.webhookHosts,
            setting: 'BULK_WEBHOOK_HOSTS',
          });
        } catch (err) {
          // A refused target stays refused: no further attempts.
          if ((err as VisionError).code === 'E_WEBHOOK_FORBIDDEN')
            throw Object.assign(new UnrecoverableError((err as Error).message), { code: 'E_WEBHOOK_FORBIDDEN' });
          throw err;
        }
      },
      this.options(4),
    );
    w.on('failed', (job, err) =>
      this.report(
        'webhook delivery',
        Object.assign(new Error(`attempt ${job?.attemptsMade}: ${err.message}`), {
          code: (err as { code?: string }).code,
        }),
      ),
    );
    w.on('error', (err) => this.report('webhook queue', err));
    this.workers.set(`:${WEBHOOK_QUEUE}`, w);
  }

  /** Stops taking jobs (of `model`, or all); running ones hand their remaining images back and resume elsewhere. */
  async close(sources: BulkSource[], model?: string): Promise<void> {
    for (const s of sources) s.abandonAll();
    const closing = model === undefined ? [...this.workers.keys()] : [model];
    await Promise.all(closing.map((k) => this.workers.get(k)?.close()));
    for (const k of closing) this.workers.delete(k);
  }

  private async process(job: Job<{ id: string }>, source: BulkSource, token: string | undefined): Promise<void> {
    const meta = await this.jobs.meta(job.data.id);
    if (!meta || meta.state === 'cancelled' || meta.state === 'completed') return;
    await this.jobs.markActive(meta.id);
    const recorded = await this.jobs.recorded(meta.id);
    const progress = setInterval(() => {
      void this.jobs
        .meta(meta.id)
        .then(
          (m) => m && job.updateProgress({ total: m.total, done: m.done, failed: m.failed }).catch(() => undefined),
        );
    }, 1000);
    let end;
    try {
      end = await source.run(meta, recorded);
    } finally {
      clearInterval(progress);
    }
    if (end === 'abandoned') {
      // Back to the queue at once, without spending an attempt: another worker resumes it.
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    await this.jobs.finish(meta.id, end);
    this.log.info({ job: meta.id, model: meta.model, images: meta.total, end }, 'bulk job finished');
  }

  private options(concurrency: number) {
    return {
      connection: this.jobs.workerConnection(),
      prefix: this.jobs.keys.bull,
      concurrency,
      lockDuration: this.cfg.lockMs,
      stalledInterval: Math.max(500, Math.floor(this.cfg.lockMs / 2)),
      maxStalledCount: 5,
    };
  }
}
