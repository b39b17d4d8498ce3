import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import { frameField, frameWindowKeys, type FrameWindowKeys } from './frame-window-keys';
import { parsePolicy, type FrameWindowPolicy } from './frame-window-policy';
import { frameWindowScripts, type FrameWindowOutcome } from './frame-window-scripts';

/**
 * How often a worker re-reads the policy, and the events service re-publishes it: a camera given its
 * first rule has its frames kept this soon after.
 */
export const POLICY_REFRESH_MS = 1000;

/** A frame a worker finished, as the window needs it. */
export interface WindowFrame {
  camera: string;
  frame: number;
  captureTs: number;
  image: Buffer;
}

/**
 * The worker's side: which cameras' frames to keep (the events service's policy, re-read every
 * `POLICY_REFRESH_MS`), and the put of each such frame queued into the transaction that appends
 * its results, so a frame is in the window before the events service can read its detections.
 * Cameras outside the policy cost a set lookup.
 */
export class FrameWindowWriter {
  private readonly keys: FrameWindowKeys;
  private policy: FrameWindowPolicy | undefined;
  private cameras = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    /** What became of each frame put (a metric). */
    private readonly onOutcome: (outcome: FrameWindowOutcome) => void = () => undefined,
  ) {
    this.keys = frameWindowKeys(prefix);
    frameWindowScripts.put.define(redis);
  }

  /** Reads the policy now and then every `POLICY_REFRESH_MS`; a failed read keeps the last one. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), POLICY_REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  wants(camera: string): boolean {
    return this.cameras.has(camera);
  }

  /** Queues the puts of the frames the policy wants; returns how many were queued. */
  queue(pipe: ChainableCommander, frames: readonly WindowFrame[], now = Date.now()): number {
    const policy = this.policy;
    if (!policy) return 0;
    let queued = 0;
    for (const f of frames) {
      if (!this.cameras.has(f.camera)) continue;
      frameWindowScripts.put.queue(
        pipe,
        {
          frames: this.keys.frames(f.camera),
          order: this.keys.order(f.camera),
          cameras: this.keys.cameras,
          bytes: this.keys.bytes,
          total: this.keys.total,
        },
        {
          camera: f.camera,
          field: frameField(f.frame, f.captureTs),
          image: f.image,
          now,
          windowMs: policy.windowMs,
          cameraBytes: policy.cameraBytes,
          totalBytes: policy.totalBytes,
          cameraKeyPrefix: this.keys.cameraKeyPrefix,
        },
      );
      queued++;
    }
    return queued;
  }

  /** Reports the outcomes of the `queued` puts, the last replies of the transaction's `replies`. */
  observe(replies: [Error | null, unknown][] | null, queued: number): void {
    if (!queued || !replies) return;
    for (const [err, outcome] of replies.slice(-queued)) if (!err) this.onOutcome(outcome as FrameWindowOutcome);
  }

  private async refresh(): Promise<void> {
    try {
      const policy = parsePolicy(await this.redis.get(this.keys.policy));
      this.policy = policy;
      this.cameras = new Set(policy?.cameras ?? []);
    } catch {
      // Redis away: the transport reports that; the last policy stands until it is back.
    }
  }
}
