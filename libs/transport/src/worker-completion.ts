import type Redis from 'ioredis';
import type { FrameJobMeta, FrameOutcomeMessage } from './frame-job';
import type { RedisKeys } from './redis-keys';
import { metaOf } from './stream-entry';
import type { CompletedFrame, Delivery } from './transport';
import type { WindowFrame } from '@vision/frame-window';
import { openMember, transportScripts } from './transport-scripts';

/** A frame taken over past `maxDeliveries`, or one whose entry could not be read. */
export type DeadFrame = { id: string; job: Delivery['job'] | undefined };

/** Queues the release of finished frames' byte budget and tenant share (release.lua). */
export function queueRelease(
  pipe: ReturnType<Redis['multi']>,
  keys: RedisKeys,
  jobs: Pick<FrameJobMeta, 'key' | 'tenant' | 'bytes' | 'cost'>[],
): void {
  if (jobs.length === 0) return;
  const bytes = jobs.reduce((n, j) => n + (j.bytes || 0), 0);
  const tracked = jobs.filter((j) => j.tenant);
  transportScripts.release.queue(
    pipe,
    { bytesWaiting: keys.bytesWaiting },
    { bytes },
    {
      keys: tracked.map((j) => keys.tenantOpen(j.tenant)),
      args: tracked.map(openMember),
    },
  );
}

/**
 * Moves frames to the dead-letter stream, tells their edges `E_DEAD_LETTER`, and acknowledges,
 * deletes and releases them, in one transaction.
 */
export async function deadLetter(cmd: Redis, keys: RedisKeys, stream: string, dead: DeadFrame[]): Promise<void> {
  const pipe = cmd.multi();
  const byEdge = new Map<string, FrameOutcomeMessage[]>();
  for (const d of dead) {
    // Dead letters keep what an operator needs to investigate, never the image.
    pipe.xadd(
      keys.deadLetter,
      'MAXLEN',
      '~',
      1000,
      '*',
      'from',
      d.id,
      'm',
      d.job ? JSON.stringify(metaOf(d.job)) : 'unreadable',
    );
    if (!d.job) continue;
    const list = byEdge.get(d.job.edgeId) ?? [];
    list.push({
      key: d.job.key,
      connId: d.job.connId,
      ok: false,
      error: { code: 'E_DEAD_LETTER', message: 'the frame failed repeatedly and was dead-lettered' },
    });
    byEdge.set(d.job.edgeId, list);
  }
  for (const [edgeId, outcomes] of byEdge) pipe.publish(keys.results(edgeId), JSON.stringify(outcomes));
  pipe.xack(stream, keys.group, ...dead.map((d) => d.id));
  pipe.xdel(stream, ...dead.map((d) => d.id));
  queueRelease(
    pipe,
    keys,
    dead.flatMap((d) => (d.job ? [d.job] : [])),
  );
  await pipe.exec();
}

/** The finished camera frames (those with a results record), as the frame window keeps them. */
export function windowFrames(frames: readonly CompletedFrame[]): WindowFrame[] {
  return frames.flatMap(({ delivery, record }) =>
    record ? [{ camera: record.camera, frame: record.frame, captureTs: record.ts, image: delivery.job.image }] : [],
  );
}
