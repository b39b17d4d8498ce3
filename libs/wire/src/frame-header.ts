import { VisionError } from './error-codes';

/**
 * yolo.v1 binary frame: an optional small header, then the encoded image.
 *
 *   offset  size  field
 *   0       1     version (= 1; never a JPEG/PNG/WebP first byte, so headerless frames stay legal)
 *   1       1     flags (must be 0: reserved for later versions, so a frame using them is refused
 *                 rather than misread)
 *   2       2     header length in bytes, big-endian, including everything up to the image
 *   4       4     frameId, u32 big-endian (echoed in the reply)
 *   8       8     capture timestamp, ms since the epoch, float64 big-endian (0 = unset)
 *   16      1     streamId length L (0..255)
 *   17      L     streamId, UTF-8 (camera or stream name, echoed in the reply)
 *
 * Readers skip to `header length`, so later versions can append fields.
 */
const FRAME_HEADER_VERSION = 1;
/** Bytes of the header before the stream id (the table above). */
const FIXED = 17;
/** Largest header a frame can carry (a 255-byte stream id): the socket's payload cap adds it to MAX_FRAME_BYTES. */
export const FRAME_HEADER_MAX_BYTES = FIXED + 255;

export interface FrameHeader {
  frameId: number;
  captureTs?: number;
  streamId?: string;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Header + image in one message. Browser-safe: plain Uint8Array, no Buffer. */
export function encodeFrame(header: FrameHeader, image: Uint8Array): Uint8Array {
  const sid = utf8.encode(header.streamId ?? '');
  if (sid.length > 255) throw new RangeError('streamId is longer than 255 bytes');
  if (!Number.isInteger(header.frameId) || header.frameId < 0 || header.frameId > 0xffffffff) {
    throw new RangeError('frameId must be a u32');
  }
  const len = FIXED + sid.length;
  const out = new Uint8Array(len + image.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, FRAME_HEADER_VERSION);
  view.setUint8(1, 0);
  view.setUint16(2, len);
  view.setUint32(4, header.frameId);
  view.setFloat64(8, header.captureTs ?? 0);
  view.setUint8(16, sid.length);
  out.set(sid, FIXED);
  out.set(image, len);
  return out;
}

/**
 * Splits a yolo.v1 binary message. A message that starts with image magic has no header. The
 * image is a view of `msg` (a Node Buffer in, a Buffer out).
 */
export function parseFrame<T extends Uint8Array>(msg: T): { header: FrameHeader | undefined; image: T } {
  if (msg.length === 0 || msg[0] !== FRAME_HEADER_VERSION) return { header: undefined, image: msg };
  if (msg.length < FIXED)
    throw new VisionError('E_BAD_HEADER', `header is ${msg.length} bytes; at least ${FIXED} expected`);
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (view.getUint8(1) !== 0)
    throw new VisionError('E_BAD_HEADER', `flags byte is ${view.getUint8(1)}; it is reserved and must be 0`);
  const len = view.getUint16(2);
  const sidLen = view.getUint8(16);
  if (len < FIXED + sidLen || len > msg.length) {
    throw new VisionError('E_BAD_HEADER', `header length ${len} does not fit the ${msg.length}-byte message`);
  }
  const captureTs = view.getFloat64(8);
  const streamId = sidLen ? utf8Decoder.decode(msg.subarray(FIXED, FIXED + sidLen)) : undefined;
  return {
    header: {
      frameId: view.getUint32(4),
      ...(captureTs ? { captureTs } : {}),
      ...(streamId !== undefined ? { streamId } : {}),
    },
    image: msg.subarray(len) as T,
  };
}
