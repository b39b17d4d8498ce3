import type Redis from 'ioredis';
import { VisionError, type FrameJob, type FrameJobMeta, type FrameOutcomeMessage } from '@vision/protocol';
import { connectTolerant, createRedis } from './redis-connection';
import { redisKeys, WORKER_LIVENESS_MS, type RedisKeys } from './redis-keys';
import type { EdgeTransport, TransportHealth } from './transport';

export interface RedisEdgeTransportOptions {
  url: string;
  prefix: string;
  /** Frames waiting for a worker (the group's lag) beyond which new frames are refused. @defaultValue 64 */
  maxQueue?: number;
  /** Approximate stream cap (`XADD MAXLEN ~`). @defaultValue 1000 */
  maxLen?: number;
}

/**
 * Admission and enqueue in one round trip. The group's `lag` (entries not yet delivered to any
 * worker) is the backlog MAX_QUEUE bounds; the group is created from `$` if Redis lost it, so a
 * frame added now is delivered and nothing older is replayed.
 */
const SUBMIT_LUA = `
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
local found = false
if ok then
  for _, g in ipairs(groups) do
    local name, lag
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'lag' then lag = g[i + 1] end
    end
    if name == ARGV[1] then
      found = true
      if lag and tonumber(lag) >= tonumber(ARGV[2]) then return 0 end
    end
  end
end
if not found then redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM') end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[4], 'img', ARGV[5])
return 1
`;

type SubmitCommand = (key: string, group: string, maxQueue: number, maxLen: number, meta: string, img: Buffer) => Promise<number>;

export class RedisEdgeTransport implements EdgeTransport {
  readonly kind = 'redis' as const;
  private readonly keys: RedisKeys;
  private readonly cmd: Redis & { visionSubmit?: SubmitCommand };
  private readonly sub: Redis;
  private readonly maxQueue: number;
  private readonly maxLen: number;

  constructor(opts: RedisEdgeTransportOptions) {
    this.keys = redisKeys(opts.prefix);
    this.maxQueue = opts.maxQueue ?? 64;
    this.maxLen = opts.maxLen ?? 1000;
    this.cmd = createRedis(opts.url, { name: 'edge-cmd' });
    this.cmd.defineCommand('visionSubmit', { numberOfKeys: 1, lua: SUBMIT_LUA });
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
    // Queued until Redis answers; ioredis re-subscribes by itself after every reconnect.
    const subscribed = this.sub.subscribe(channel).catch(() => undefined);
    if (this.sub.status === 'ready') await subscribed;
  }

  async submit(job: FrameJob): Promise<void> {
    const meta: FrameJobMeta = {
      key: job.key,
      edgeId: job.edgeId,
      connId: job.connId,
      frameId: job.frameId,
      receivedAt: job.receivedAt,
      deadline: job.deadline,
    };
    let added: number;
    try {
      added = await this.cmd.visionSubmit!(this.keys.stream, this.keys.group, this.maxQueue, this.maxLen, JSON.stringify(meta), job.image);
    } catch (err) {
      throw new VisionError('E_UNAVAILABLE', `the frame queue is unreachable: ${(err as Error).message}`, { cause: err });
    }
    if (added !== 1) throw new VisionError('E_OVERLOADED');
  }

  async health(): Promise<TransportHealth> {
    try {
      const now = Date.now();
      const [workers, backlog] = await Promise.all([
        this.cmd.zcount(this.keys.workers, now - WORKER_LIVENESS_MS, '+inf'),
        this.lag(),
      ]);
      return { reachable: true, workers, backlog };
    } catch {
      return { reachable: false, workers: 0, backlog: undefined };
    }
  }

  private async lag(): Promise<number | undefined> {
    try {
      const groups = (await this.cmd.call('XINFO', 'GROUPS', this.keys.stream)) as unknown[][];
      for (const g of groups) {
        const fields = new Map<string, unknown>();
        for (let i = 0; i < g.length; i += 2) fields.set(String(g[i]), g[i + 1]);
        if (fields.get('name') === this.keys.group) return fields.get('lag') == null ? undefined : Number(fields.get('lag'));
      }
    } catch {
      // no stream yet
    }
    return 0;
  }

  async close(): Promise<void> {
    this.sub.disconnect();
    this.cmd.disconnect();
  }
}
