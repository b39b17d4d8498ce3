import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { connectTolerant, createRedis, type RedisConnectionOptions, type RedisTarget } from '@vision/redis';
import type { BulkConfig } from '@vision/config';
import { VisionError } from '@vision/wire';
import { type FrameOutcomeMessage } from '@vision/transport';
import { WEBHOOK_RETRY } from '@vision/webhooks';
import { bulkScripts } from './bulk-scripts';
import { bulkKeys, jobQueueName, WEBHOOK_QUEUE, type BulkKeys } from './bulk-keys';
import type { ImageResult, JobMeta, JobState, JobStatus, WebhookEvent } from './job-status';

/**
 * Bulk jobs in Redis: metadata, images (raw bytes in a hash per job, never in the BullMQ payload),
 * results (one per image, written once), the byte budget and per-tenant job slots, and the BullMQ
 * queues that carry job ids to workers. Edges create, read and cancel jobs; workers read images and
 * record results. Every key of a job expires `resultTtlS` after its last change.
 */
export class BulkJobs {
  readonly keys: BulkKeys;
  private readonly redis: Redis;
  private readonly queues = new Map<string, Queue>();
  private workerConnections = 0;

  constructor(
    /** The state Redis: a URL or a master behind sentinels. */
    private readonly target: RedisTarget,
    prefix: string,
    private readonly cfg: BulkConfig,
    private readonly onState?: RedisConnectionOptions['onState'],
  ) {
    this.keys = bulkKeys(prefix);
    // Commands fail fast while Redis is away, so an HTTP client hears E_UNAVAILABLE instead of waiting.
    this.redis = createRedis(target, { name: 'bulk', onState });
    void connectTolerant(this.redis);
  }

  /**
   * A connection for a BullMQ worker: its blocking reads wait out reconnects (an offline queue and
   * maxRetriesPerRequest: null, as BullMQ requires), and it follows a failover like every other.
   */
  workerConnection(): Redis {
    const name = `bulk-worker-${++this.workerConnections}`;
    return createRedis(this.target, { name, blocking: true, offlineQueue: true, onState: this.onState });
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new Queue(name, { connection: this.redis, prefix: this.keys.bull })));
    return q;
  }

  /** Takes a job slot for `tenant` and `bytes` of the budget; throws `E_JOB_LIMIT` when either is full. */
  async reserve(tenant: string, model: string, bytes: number): Promise<string> {
    return this.store(async () => {
      const id = randomUUID();
      const now = Date.now();
      const r = await bulkScripts.reserve.run(
        this.redis,
        {
          stored: this.keys.stored,
          storedBytes: this.keys.storedBytes,
          tenantJobs: this.keys.tenantJobs(tenant),
          bytesByJob: this.keys.bytesByJob,
        },
        {
          now,
          expiresAt: now + this.cfg.resultTtlS * 1000,
          id,
          bytes,
          maxStoredBytes: this.cfg.maxStoredBytes,
          maxJobsPerTenant: this.cfg.maxJobsPerTenant,
        },
      );
      if (r === -1)
        throw new VisionError('E_JOB_LIMIT', `at most ${this.cfg.maxJobsPerTenant} unfinished jobs per tenant`);
      if (r === -2) throw new VisionError('E_JOB_LIMIT', 'the bulk image store is full; retry later');
      await this.redis
        .multi()
        .hset(this.keys.job(id), { tenant, model, state: 'uploading', total: 0, done: 0, failed: 0, createdAt: now })
        .pexpire(this.keys.job(id), this.cfg.resultTtlS * 1000)
        .exec();
      return id;
    });
  }

  async putImage(id: string, index: number, image: Buffer): Promise<void> {
    return this.store(async () => {
      await this.redis
        .multi()
        .hset(this.keys.images(id), String(index), image)
        .pexpire(this.keys.images(id), this.cfg.resultTtlS * 1000)
        .exec();
    });
  }

  /** The upload is complete (`total` images, `bytes` of them): the job becomes visible to `model`'s workers. */
  async submit(id: string, model: string, total: number, bytes: number, webhook: string | undefined): Promise<void> {
    return this.store(async () => {
      await bulkScripts.resize.run(
        this.redis,
        { storedBytes: this.keys.storedBytes, bytesByJob: this.keys.bytesByJob },
        { id, bytes },
      );
      await this.redis.hset(this.keys.job(id), { total, state: 'queued', ...(webhook ? { webhook } : {}) });
      // The payload is the id only; a retry after a worker crash resumes from the results written so far.
      await this.queue(jobQueueName(model)).add(
        'detect',
        { id },
        {
          jobId: id,
          attempts: 3,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: true,
          removeOnFail: true,
        },
      );
    });
  }

  /** An upload that failed half-way: nothing of it stays. */
  async abort(id: string, tenant: string): Promise<void> {
    await this.redis.del(this.keys.job(id), this.keys.images(id), this.keys.results(id));
    await this.release(id, tenant);
  }

  async meta(id: string): Promise<JobMeta | undefined> {
    const h = await this.redis.hgetall(this.keys.job(id));
    if (!h['tenant']) return undefined;
    return {
      id,
      tenant: h['tenant'],
      model: h['model'] ?? '',
      state: h['state'] as JobState,
      total: Number(h['total'] ?? 0),
      done: Number(h['done'] ?? 0),
      failed: Number(h['failed'] ?? 0),
      createdAt: Number(h['createdAt'] ?? 0),
      finishedAt: h['finishedAt'] ? Number(h['finishedAt']) : undefined,
      webhook: h['webhook'] || undefined,
    };
  }

  /** A job as its owner sees it; another tenant's job does not exist for the caller (`E_NOT_FOUND`). */
  async status(id: string, tenant: string, offset = 0, limit = 100): Promise<JobStatus> {
    return this.store(async () => {
      const m = await this.meta(id);
      if (!m || m.tenant !== tenant) throw new VisionError('E_NOT_FOUND');
      const fields = Array.from({ length: Math.max(0, Math.min(limit, m.total - offset)) }, (_, i) =>
        String(offset + i),
      );
      const raw = fields.length ? await this.redis.hmget(this.keys.results(id), ...fields) : [];
      const results = raw.flatMap((r, i): ImageResult[] =>
        r ? [{ index: offset + i, ...(JSON.parse(r) as Omit<ImageResult, 'index'>) } as ImageResult] : [],
      );
      const next = offset + fields.length < m.total ? offset + fields.length : undefined;
      return { ...this.summary(m), results, ...(next !== undefined ? { next } : {}) };
    });
  }

  summary(m: JobMeta): Omit<JobStatus, 'results' | 'next'> {
    return {
      id: m.id,
      model: m.model,
      state: m.state,
      progress: { total: m.total, done: m.done, failed: m.failed },
      createdAt: m.createdAt,
      ...(m.finishedAt ? { finishedAt: m.finishedAt } : {}),
    };
  }

  /** Cancels a job of `tenant`: a waiting one never runs, a running one stops after the images in hand. */
  async cancel(id: string, tenant: string): Promise<JobStatus> {
    return this.store(async () => {
      const m = await this.meta(id);
      if (!m || m.tenant !== tenant) throw new VisionError('E_NOT_FOUND');
      if (m.state === 'queued' || m.state === 'active' || m.state === 'uploading') {
        await this.queue(jobQueueName(m.model))
          .remove(id)
          .catch(() => 0); // a running job is locked: its worker sees the state
        await this.finish(id, 'cancelled');
      }
      return this.status(id, tenant, 0, 0);
    });
  }

  /**
   * Runs an edge-facing operation: our own errors pass through; anything else comes from Redis and
   * is `E_UNAVAILABLE` (retryable), so an HTTP client hears 503 at once while the store is away.
   */
  private async store<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof VisionError) throw err;
      throw new VisionError('E_UNAVAILABLE', `the job store is unreachable: ${(err as Error).message}`, { cause: err });
    }
  }

  // Worker side.

  async image(id: string, index: number): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.keys.images(id), String(index));
  }

  /** Indices that already have a result (a job resumed after its worker died skips them). */
  async recorded(id: string): Promise<Set<number>> {
    return new Set((await this.redis.hkeys(this.keys.results(id))).map(Number));
  }

  /** Records one image's outcome, once: a second result for the same image (a resumed job) is dropped. */
  async record(id: string, index: number, outcome: FrameOutcomeMessage): Promise<boolean> {
    const value = outcome.ok ? { detections: outcome.detections } : { error: outcome.error };
    const first = await bulkScripts.record.run(
      this.redis,
      { results: this.keys.results(id), job: this.keys.job(id) },
      {
        index,
        result: JSON.stringify(value),
        counter: outcome.ok ? 'done' : 'failed',
        ttlMs: this.cfg.resultTtlS * 1000,
      },
    );
    return first === 1;
  }

  async markActive(id: string): Promise<void> {
    await this.redis.hset(this.keys.job(id), 'state', 'active');
  }

  /**
   * Ends a job (completed, failed or cancelled): images deleted, budget and tenant slot given back,
   * results kept for `resultTtlS`, the webhook queued. Only the first end counts.
   */
  async finish(id: string, state: 'completed' | 'failed' | 'cancelled'): Promise<void> {
    const m = await this.meta(id);
    if (!m || m.state === 'completed' || m.state === 'failed' || m.state === 'cancelled') return;
    const ttl = this.cfg.resultTtlS * 1000;
    await this.redis
      .multi()
      .hset(this.keys.job(id), { state, finishedAt: Date.now() })
      .pexpire(this.keys.job(id), ttl)
      .pexpire(this.keys.results(id), ttl)
      .del(this.keys.images(id))
      .exec();
    await this.release(id, m.tenant);
    if (m.webhook) {
      const event: WebhookEvent = { type: 'job.finished', job: this.summary({ ...m, state, finishedAt: Date.now() }) };
      await this.queue(WEBHOOK_QUEUE).add(
        'deliver',
        { url: m.webhook, body: JSON.stringify(event) },
        { ...WEBHOOK_RETRY, removeOnComplete: true, removeOnFail: 100 },
      );
    }
  }

  private async release(id: string, tenant: string): Promise<void> {
    await bulkScripts.release.run(
      this.redis,
      {
        stored: this.keys.stored,
        storedBytes: this.keys.storedBytes,
        tenantJobs: this.keys.tenantJobs(tenant),
        bytesByJob: this.keys.bytesByJob,
      },
      { id },
    );
  }

  /** Image bytes held for unfinished jobs (the gauge; the budget is `maxStoredBytes`). */
  async storedBytes(): Promise<number> {
    return Number((await this.redis.get(this.keys.storedBytes)) ?? 0);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.redis.disconnect();
  }
}
