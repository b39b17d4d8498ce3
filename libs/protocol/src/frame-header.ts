import { VisionError } from './error-codes';

/**
 * yolo.v1 binary frame: an optional small header, then the encoded image.
 *
 *   offset  size  field
 *   0       1     version (= 1; never a JPEG/PNG/WebP first byte, so headerless frames stay legal)
 *   1       1     flags (0; reserved)
 *   2       2     header length in bytes, big-endian, including everything up to the image
 *   4       4     frameId, u32 big-endian (echoed in the reply)
 *   8       8     capture timestamp, ms since the epoch, float64 big-endian (0 = unset)
 *   16      1     streamId length L (0..255)
 *   17      L     streamId, UTF-8 (camera or stream name, echoed in the reply)
 *
 * Readers skip to `header length`, so later versions can append fields.
 */
export const FRAME_HEADER_VERSION = 1;
const FIXED = 17;
/** Largest header a frame can carry (a 255-byte stream id): the socket's payload cap adds it to MAX_FRAME_BYTES. */
export const FRAME_HEADER_MAX_BYTES = FIXED + 255;

export interface FrameHeader {
  frameId: number;
  captureTs?: number;
  streamId?: string;
}

export interface ParsedFrame {
  header: FrameHeader | undefined;
  image: Uint8Array;
}

export function encodeFrame(header: FrameHeader, image: Uint8Array): Buffer {
  const sid = Buffer.from(header.streamId ?? '', 'utf8');
  if (sid.length > 255) throw new RangeError('streamId is longer than 255 bytes');
  if (!Number.isInteger(header.frameId) || header.frameId < 0 || header.frameId > 0xffffffff) {
    throw new RangeError('frameId must be a u32');
  }
  const len = FIXED + sid.length;
  const out = Buffer.allocUnsafe(len + image.length);
  out.writeUInt8(FRAME_HEADER_VERSION, 0);
  out.writeUInt8(0, 1);
  out.writeUInt16BE(len, 2);
  out.writeUInt32BE(header.frameId, 4);
  out.writeDoubleBE(header.captureTs ?? 0, 8);
  out.writeUInt8(sid.length, 16);
  sid.copy(out, FIXED);
  out.set(image, len);
  return out;
}

/** Splits a yolo.v1 binary message. A message that starts with image magic has no header. */
export function parseFrame(msg: Buffer): ParsedFrame {
  if (msg.length === 0 || msg[0] !== FRAME_HEADER_VERSION) return { header: undefined, image: msg };
  if (msg.length < FIXED) throw new VisionError('E_BAD_HEADER', `header is ${msg.length} bytes; at least ${FIXED} expected`);
  const len = msg.readUInt16BE(2);
  const sidLen = msg.readUInt8(16);
  if (len < FIXED + sidLen || len > msg.length) {
    throw new VisionError('E_BAD_HEADER', `header length ${len} does not fit the ${msg.length}-byte message`);
  }
  const captureTs = msg.readDoubleBE(8);
  const streamId = sidLen ? msg.toString('utf8', FIXED, FIXED + sidLen) : undefined;
  return {
    header: {
      frameId: msg.readUInt32BE(4),
      ...(captureTs ? { captureTs } : {}),
      ...(streamId !== undefined ? { streamId } : {}),
    },
    image: msg.subarray(len),
  };
}
