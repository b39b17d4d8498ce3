import type Redis from 'ioredis';
import { VisionError, type FrameJob, type FrameOutcomeMessage, type ModelAnnouncement } from '@vision/protocol';
import { luaScript } from './lua-scripts';
import { connectTolerant, createRedis, requireRedis7 } from './redis-connection';
import { modelQueues, queueHealth } from './redis-queue-stats';
import { redisKeys, WORKER_LIVENESS_MS, type RedisKeys } from './redis-keys';
import { DEFAULT_ADMISSION, SHARE_MARGIN_MS, type AdmissionLimits, type EdgeTransport, type ModelStatus, type TransportHealth } from './transport';

export interface RedisEdgeTransportOptions {
  url: string;
  prefix: string;
  admission?: Partial<AdmissionLimits>;
  /** Approximate stream cap (`XADD MAXLEN ~`). @defaultValue 1000 */
  maxLen?: number;
}

type SubmitCommand = (...args: (string | number | Buffer)[]) => Promise<[number, number]>;

export class RedisEdgeTransport implements EdgeTransport {
  readonly kind = 'redis' as const;
  private readonly keys: RedisKeys;
  private readonly cmd: Redis & { visionSubmit?: SubmitCommand };
  private readonly sub: Redis;
  private readonly admission: AdmissionLimits;
  private readonly maxLen: number;

  constructor(opts: RedisEdgeTransportOptions) {
    this.keys = redisKeys(opts.prefix);
    this.admission = { ...DEFAULT_ADMISSION, ...opts.admission };
    this.maxLen = opts.maxLen ?? 1000;
    this.cmd = createRedis(opts.url, { name: 'edge-cmd' });
    this.cmd.defineCommand('visionSubmit', { numberOfKeys: 6, lua: luaScript('submit') });
    // The subscriber queues its SUBSCRIBE while offline so it is (re)issued on connect.
    this.sub = createRedis(opts.url, { name: 'edge-sub', offlineQueue: true, blocking: true });
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
    let reply: [number, number];
    try {
      reply = await this.cmd.visionSubmit!(
        this.keys.stream(job.model), this.keys.tenantOpen(job.tenant), this.keys.activeTenants, this.keys.bytesWaiting, this.keys.tenantRate(job.tenant), this.keys.workers(job.model),
        this.keys.group, a.maxQueue, this.maxLen, JSON.stringify(meta), image, Date.now(), job.deadline + SHARE_MARGIN_MS,
        job.tenant, job.key, a.tenantMaxQueue, a.maxQueueBytes, image.length, a.tenantFramesPerSecond, Math.max(1, a.tenantFramesPerSecond),
        Date.now() - WORKER_LIVENESS_MS,
      );
    } catch (err) {
      throw new VisionError('E_UNAVAILABLE', `the frame queue is unreachable: ${(err as Error).message}`, { cause: err });
    }
    const [status, retryAfterMs] = reply;
    if (status === 1) return;
    if (status === -5) throw new VisionError('E_UNAVAILABLE', 'no worker is serving');
    if (status === -3) throw new VisionError('E_RATE_LIMITED', 'tenant frame rate exceeded', { retryAfterMs });
    throw new VisionError('E_OVERLOADED', status === -2 ? 'tenant share of the backlog is full' : status === -4 ? 'byte budget full' : 'backlog full');
  }

  health(models: readonly string[]): Promise<TransportHealth> {
    return queueHealth(this.cmd, this.keys, models);
  }

  async models(ids: readonly string[]): Promise<Record<string, ModelStatus>> {
    try {
      const [queues, announced] = await Promise.all([modelQueues(this.cmd, this.keys, ids), this.cmd.hgetall(this.keys.models)]);
      return Object.fromEntries(ids.map((id) => [id, { ...queues[id], announced: parseAnnouncement(announced[id]) }]));
    } catch (err) {
      throw new VisionError('E_UNAVAILABLE', `the frame queue is unreachable: ${(err as Error).message}`, { cause: err });
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
