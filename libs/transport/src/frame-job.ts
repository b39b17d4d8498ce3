/** Edge ↔ worker messages: server-side only (they carry Node Buffers). */
import type { Classification, Detection, WireError } from '@vision/wire';

/** What an edge enqueues for a frame. `key` is unique across edges and connections. */
export interface FrameJobMeta {
  key: string;
  edgeId: string;
  connId: string;
  frameId: number;
  /** Epoch ms when the edge received the frame. */
  receivedAt: number;
  /** Epoch ms after which inference is pointless. */
  deadline: number;
  /** Whose share of the backlog this frame counts against (token subject, or client address). */
  tenant: string;
  /** Encoded image size, for the byte budget of waiting frames. */
  bytes: number;
  /** Admission cost units (decoded pixels per `COST_UNIT_PIXELS`, from the image header; at least 1). */
  cost: number;
  /** Epoch ms the client says the frame was captured, when it said. */
  captureTs?: number;
  /** The client's camera/stream id, when it gave one: frames of one stream stay on one shard. */
  streamId?: string;
  /** The model id (its own stream and workers). */
  model: string;
}

export interface FrameJob extends FrameJobMeta {
  image: Buffer;
}

/** What a worker publishes back to the owning edge for one frame. */
export type FrameOutcomeMessage =
  | {
      key: string;
      connId: string;
      ok: true;
      detections: Detection[];
      /** A classifier's best classes (absent for other tasks). */
      classifications?: Classification[];
      model: string;
      modelVersion: string;
      batchSize: number;
      /** Epoch ms when a worker took the frame. */
      pickedAt: number;
      preprocessMs: number;
      inferenceMs: number;
    }
  | { key: string; connId: string; ok: false; error: WireError };

/** What a worker announces about a model it loaded (GET /v1/models shows it). */
export interface ModelAnnouncement {
  id: string;
  version: string;
  classes: string[];
  /** NCHW; -1 for a dynamic batch axis. */
  inputShape: number[];
  /** The model's task (detect, classify, …); absent from workers before tasks were announced. */
  task?: string;
  layout: string;
  provider: string;
}
