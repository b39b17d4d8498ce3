import type { FrameJob, FrameOutcomeMessage } from '@vision/protocol';

/** A frame a worker took from the queue. */
export interface Delivery {
  /** Queue-level id (a stream entry id in Redis). */
  id: string;
  job: FrameJob;
  /** How many times this frame has been handed to a worker, this time included. */
  deliveryCount: number;
  /** Epoch ms when this worker took it. */
  pickedAt: number;
}

export interface CompletedFrame {
  delivery: Delivery;
  outcome: FrameOutcomeMessage;
}

export interface TransportHealth {
  /** The queue (Redis, or the in-process queue) answers. */
  reachable: boolean;
  /** Workers that reported in recently. */
  workers: number;
  /** Frames waiting for a worker, when known. */
  backlog: number | undefined;
}

/** What an edge needs: enqueue frames, receive the outcomes addressed to it. */
export interface EdgeTransport {
  readonly kind: 'memory' | 'redis';
  /** Starts delivering this edge's outcomes to `onOutcome`. */
  start(edgeId: string, onOutcome: (m: FrameOutcomeMessage) => void): Promise<void>;
  /** Enqueues a frame; rejects with `E_OVERLOADED` (backlog full) or `E_UNAVAILABLE` (queue unreachable). */
  submit(job: FrameJob): Promise<void>;
  health(): Promise<TransportHealth>;
  /**
   * Called whenever the connection to the queue drops: frames in flight then have an unknown
   * fate. Transports that cannot lose a connection (in-process) omit it.
   */
  onConnectionLost?(listener: () => void): void;
  close(): Promise<void>;
}

/** What a worker needs: take frames, hand back outcomes (publish, then acknowledge). */
export interface WorkerTransport {
  readonly kind: 'memory' | 'redis';
  start(workerId: string): Promise<void>;
  /** Up to `max` frames, waiting at most `blockMs` for the first one. Never throws: failures back off and return []. */
  read(max: number, blockMs: number): Promise<Delivery[]>;
  /** Publishes each outcome to its edge and acknowledges the frame. */
  complete(frames: CompletedFrame[]): Promise<void>;
  close(): Promise<void>;
}
