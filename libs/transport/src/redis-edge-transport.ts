import type Redis from 'ioredis';
import { VisionError } from '@vision/wire';
import { type FrameJob, type FrameOutcomeMessage, type ModelAnnouncement } from './frame-job';
import {
  connectTolerant,
  createRedis,
  requireRedis7,
  type RedisConnectionOptions,
  type RedisTarget,
} from '@vision/redis';
import { refusalError, type AdmissionLimits, type Refusal } from './admission';
import { modelQueues, queueHealth } from './redis-queue-stats';
import { redisKeys, WORKER_LIVENESS_MS, type RedisKeys } from './redis-keys';
import { SHARE_MARGIN_MS, type EdgeTransport, type ModelStatus, type TransportHealth } from './transport';
import { openMember, transportScripts } from './transport-scripts';

export interface RedisEdgeTransportOptions {
  /** The frames Redis (one shard): a URL or a master behind sentinels. */
  target: RedisTarget;
  prefix: string;
  admission: AdmissionLimits;
  /** Approximate stream cap (`XADD MAXLEN ~`). */
  maxLen: number;
  onState?: RedisConnectionOptions['onState'];
}

export class RedisEdgeTransport implements EdgeTransport {
  readonly kind = 'redis' as const;
  private readonly keys: RedisKeys;
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly admission: AdmissionLimits;
  private readonly maxLen: number;

  constructor(opts: RedisEdgeTransportOptions) {
    this.keys = redisKeys(opts.prefix);
    this.admission = opts.admission;
    this.maxLen = opts.maxLen;
    this.cmd = createRedis(opts.target, { name: 'edge-cmd', onState: opts.onState });
    // The subscriber queues its SUBSCRIBE while offline so it is (re)issued on connect.
    this.sub = createRedis(opts.target, {
      name: 'edge-sub',
      offlineQueue: true,
      blocking: true,
      onState: opts.onState,
    });
  }

  onConnectionLost(listener: () => void): void {
    this.cmd.on('close', listener);
  }

  async start(edgeId: string, onOutcome: (m: FrameOutcomeMessage) => void): Promise<void> {
    const channel = this.keys.results(edgeId);
    this.sub.on('messageBuffer', (ch: Buffer, payload: Buffer) => {
      if (ch.toString() !== channel) return;
      let batch: FrameOutcomeMessage[];
      try {
        batch = JSON.parse(payload.toString('utf8')) as FrameOutcomeMessage[];
      } catch {
        return; // not ours to interpret; the edge's deadline timer answers the frame
      }
      for (const m of batch) onOutcome(m);
    });
    await Promise.all([connectTolerant(this.cmd), connectTolerant(this.sub)]);
    await requireRedis7(this.cmd);
    // Queued until Redis answers; ioredis re-subscribes by itself after every reconnect.
    const subscribed = this.sub.subscribe(channel).catch(() => undefined);
    if (this.sub.status === 'ready') await subscribed;
  }

  async submit(job: FrameJob): Promise<void> {
    const { image, ...meta } = job;
    const a = this.admission;
    let reply: [string, number];
    try {
      const now = Date.now();
      reply = (await transportScripts.submit.run(
        this.cmd,
        {
          stream: this.keys.stream(job.model),
          tenantOpen: this.keys.tenantOpen(job.tenant),
          activeTenants: this.keys.activeTenants,
          bytesWaiting: this.keys.bytesWaiting,
          tenantRate: this.keys.tenantRate(job.tenant),
          workers: this.keys.workers(job.model),
        },
        {
          group: this.keys.group,
          maxQueue: a.maxQueue,
          maxLen: this.maxLen,
          meta: JSON.stringify(meta),
          image,
          now,
          expiresAt: job.deadline + SHARE_MARGIN_MS,
          tenant: job.tenant,
          member: openMember(job),
          tenantMaxQueue: a.tenantMaxQueue,
          maxQueueBytes: a.maxQueueBytes,
          bytes: image.length,
          tenantFramesPerSecond: a.tenantFramesPerSecond,
          liveSince: now - WORKER_LIVENESS_MS,
          cost: job.cost,
        },
      )) as [string, number];
    } catch (err) {
      throw new VisionError('E_UNAVAILABLE', `the frame queue is unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const [outcome, retryAfterMs] = reply;
    if (outcome !== 'admitted') throw refusalError(outcome as Refusal, retryAfterMs);
  }

  health(models: readonly string[]): Promise<TransportHealth> {
    return queueHealth(this.cmd, this.keys, models);
  }

  async models(ids: readonly string[]): Promise<Record<string, ModelStatus>> {
    try {
      const [queues, announced] = await Promise.all([
        modelQueues(this.cmd, this.keys, ids),
        this.cmd.hgetall(this.keys.models),
      ]);
      return Object.fromEntries(ids.map((id) => [id, { ...queues[id], announced: parseAnnouncement(announced[id]) }]));
    } catch (err) {
      throw new VisionError('E_UNAVAILABLE', `the frame queue is unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    this.sub.disconnect();
    this.cmd.disconnect();
  }
}

function parseAnnouncement(raw: string | undefined): ModelAnnouncement | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as ModelAnnouncement;
  } catch {
    return undefined;
  }
}
