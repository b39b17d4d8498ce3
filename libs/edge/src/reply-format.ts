import {
  parseFrame,
  PROTOCOL_V1,
  type ErrorReply,
  type FrameHeader,
  type GoAwayMessage,
  type ResultReply,
  type WireError,
} from '@vision/wire';
import type { EdgeFrame, FrameResult } from './frame-ledger';

export type WireProtocol = 'seed' | 'yolo.v1';

/**
 * What differs between the two WebSocket protocols, in one place: how a binary message splits into
 * header and image, and what each reply looks like. Sessions hold one and never branch on the
 * protocol themselves.
 */
export interface ReplyFormat {
  readonly protocol: WireProtocol;
  /** Throws `E_BAD_HEADER` for a malformed yolo.v1 header. */
  parse(data: Buffer): { header: FrameHeader | undefined; image: Buffer };
  result(f: EdgeFrame, r: FrameResult): unknown;
  /** An error reply; `frameId`/`streamId` are absent for errors about a message that carried no frame. */
  error(error: WireError, frameId?: number, streamId?: string): unknown;
  /** The reply for a frame a newer one replaced, or undefined where the protocol has none. */
  dropped(f: EdgeFrame, error: WireError): unknown;
  /** Whether the client is told the error code before the server closes it (the close code says it too). */
  readonly explainsClose: boolean;
  /** Whether text control messages (ping, hello, auth, model) are understood. */
  readonly controlMessages: boolean;
  /** The drain notice, or undefined where the protocol has none. */
  readonly goaway: GoAwayMessage | undefined;
}

/**
 * The seed protocol: any binary image in, a JSON array of boxes (or `{error}`) out. It has no place
 * for a classifier's classes: a classify model answers it an empty box list (yolo.v1 carries them).
 */
const SEED: ReplyFormat = {
  protocol: 'seed',
  parse: (data) => ({ header: undefined, image: data }),
  result: (_f, r) => r.detections,
  error: (error) => ({ error }),
  // The seed protocol has no way to say "dropped": the frame simply gets no reply.
  dropped: () => undefined,
  explainsClose: false,
  controlMessages: false,
  goaway: undefined,
};

/** yolo.v1: a small binary header per frame, typed JSON replies that echo frame and stream ids. */
const V1: ReplyFormat = {
  protocol: 'yolo.v1',
  parse: (data) => parseFrame(data),
  result: (f, r): ResultReply => ({
    type: 'result',
    frameId: f.frameId,
    ...(f.streamId !== undefined ? { streamId: f.streamId } : {}),
    ...(f.captureTs !== undefined ? { captureTs: f.captureTs } : {}),
    detections: r.detections,
    ...(r.classifications ? { classifications: r.classifications } : {}),
    model: r.model,
    modelVersion: r.modelVersion,
    batchSize: r.batchSize,
    timings: r.timings,
  }),
  error: (error, frameId, streamId): ErrorReply => ({
    type: 'error',
    ...(frameId !== undefined ? { frameId } : {}),
    ...(streamId !== undefined ? { streamId } : {}),
    error,
  }),
  dropped: (f, error) => V1.error(error, f.frameId, f.streamId),
  explainsClose: true,
  controlMessages: true,
  goaway: { type: 'goaway' },
};

export function replyFormat(subprotocol: string): ReplyFormat {
  return subprotocol === PROTOCOL_V1 ? V1 : SEED;
}
