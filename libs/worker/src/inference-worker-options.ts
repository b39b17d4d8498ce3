import type { FrameSource } from './lane';

export interface InferenceWorkerOptions {
  /** The model id and version every result reports (and the `model` label of the worker metrics). */
  model: { id: string; version: string };
  /** Most frames per `session.run`. */
  maxBatch: number;
  /**
   * Triton-style batching delay: an idle engine waits up to this long after the first ready frame for a
   * fuller batch (0: none).
   */
  maxWaitMs: number;
  /** Frames decoding at once, shared round-robin by tenant. */
  decodeConcurrency: number;
  /** How long an idle read blocks; bounds how long a stop waits. */
  idleBlockMs: number;
  /**
   * Low-priority frames (bulk jobs) that fill what real-time frames leave: decoded only on a
   * decoder real-time frames do not need, and put in a batch only after every ready real-time frame.
   */
  backfill?: FrameSource;
  /** Most backfill frames in one batch (every real-time frame arriving meanwhile waits for it). */
  backfillMaxBatch: number;
  /** Whether backfill may join a batch that carries real-time frames (free on a GPU). */
  backfillTopUp: boolean;
  /** Start a backfill-only batch only when it should end before the next real-time frame (BackfillPolicy). */
  backfillYield: boolean;
  /** Camera frames' detections, low tier included, for the results stream; undefined: not recorded. */
  results?: { confThreshold: number };
}
