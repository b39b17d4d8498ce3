import type { Classification, Detection } from './detection';
import type { WireError } from './error-codes';

/** The edge's WebSocket endpoint (and, with `/v1/detect`, what HTTP clients post to). */
export const DETECT_PATH = '/ws/detect';

/** Sub-protocol names offered in `Sec-WebSocket-Protocol`. No header: the seed-compatible protocol. */
export const PROTOCOL_V1 = 'yolo.v1';

export interface Timings {
  /** Edge receive → worker picked the frame up. */
  queueMs: number;
  preprocessMs: number;
  inferenceMs: number;
  /** Edge receive → reply sent. */
  totalMs: number;
}

export interface ResultReply {
  type: 'result';
  frameId: number;
  streamId?: string;
  captureTs?: number;
  /** Boxes in original-image pixels; empty for a model whose task has none (a classifier). */
  detections: Detection[];
  /** A classifier's best classes for the whole frame, best first (`CLASSIFY_TOP_K` of them); absent for other tasks. */
  classifications?: Classification[];
  /** The model id that produced this result, and its version (during a hot swap, old or new). */
  model: string;
  modelVersion: string;
  /** Frames in the `session.run` that produced this result. */
  batchSize: number;
  timings: Timings;
}

export interface ErrorReply {
  type: 'error';
  /** Absent only for errors about a message that carried no frame (a bad text message). */
  frameId?: number;
  streamId?: string;
  error: WireError;
}

/** First message on a yolo.v1 connection: what the server runs and the limits it applies. */
export interface HelloMessage {
  type: 'hello';
  protocol: typeof PROTOCOL_V1;
  edgeId: string;
  /** The connection's model (`?model=`, else the site's default); `model` control messages change it. */
  model: string;
  limits: {
    maxInFlight: number;
    maxFrameBytes: number;
    deadlineMs: number;
    framesPerSecond: number;
    messagesPerSecond: number;
  };
  /** Epoch ms when the connection's token expires (send an `auth` message before then); absent without auth. */
  tokenExpiresAt?: number;
}

/** Answer to a client's `auth` message: the fresh token replaced the connection's credentials. */
export interface AuthAcceptedMessage {
  type: 'auth';
  ok: true;
  tokenExpiresAt?: number;
}

/** Answer to a `model` control message: frames of the connection (or of `streamId`) now go to `model`. */
export interface ModelSelectedMessage {
  type: 'model';
  model: string;
  version: string;
  streamId?: string;
}

/** The edge is draining: stop sending on this connection and reconnect (another edge will answer). */
export interface GoAwayMessage {
  type: 'goaway';
}

export type ServerMessageV1 =
  | ResultReply
  | ErrorReply
  | HelloMessage
  | GoAwayMessage
  | AuthAcceptedMessage
  | ModelSelectedMessage
  | { type: 'pong'; ts?: number };
