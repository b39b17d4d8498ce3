import type Redis from 'ioredis';
import { frameField, frameWindowKeys, type FrameWindowKeys } from './frame-window-keys';
import type { FrameWindowPolicy } from './frame-window-policy';

/**
 * The events service's side: publishes the policy to a frames Redis, and reads a frame back by
 * camera, frame id and capture time while its window still holds it.
 */
export class FrameWindowReader {
  private readonly keys: FrameWindowKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = frameWindowKeys(prefix);
  }

  /** Sets the policy for `ttlMs`: workers stop keeping frames once no events service renews it. */
  async publish(policy: FrameWindowPolicy, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.policy, JSON.stringify(policy), 'PX', ttlMs);
  }

  /** The frame's encoded bytes, or undefined when the window no longer (or never) held it. */
  async frame(camera: string, frame: number, captureTs: number): Promise<Buffer | undefined> {
    return (await this.redis.hgetBuffer(this.keys.frames(camera), frameField(frame, captureTs))) ?? undefined;
  }

  /** Bytes held: by every window together, and per camera. */
  async held(): Promise<{ total: number; cameras: Record<string, number> }> {
    const [total, cameras] = await Promise.all([this.redis.get(this.keys.total), this.redis.hgetall(this.keys.bytes)]);
    return {
      total: Number(total ?? 0),
      cameras: Object.fromEntries(Object.entries(cameras).map(([c, b]) => [c, Number(b)])),
    };
  }
}
