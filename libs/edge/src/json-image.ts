import { VisionError } from '@vision/wire';

/**
 * `{"image": "<base64>"}` without building a JSON tree: the body must be exactly one object with
 * one string member `image` of base64 characters. A 10 MB nested document is refused after one
 * linear scan instead of being parsed on the event loop.
 */
const SHAPE = /^\s*\{\s*"image"\s*:\s*"([A-Za-z0-9+/=\r\n]*)"\s*\}\s*$/;

export function decodeJsonImage(body: Buffer): Buffer {
  // latin1 maps bytes 1:1, so the scan never decodes UTF-8 and non-ASCII simply fails to match.
  const m = SHAPE.exec(body.toString('latin1'));
  if (!m) throw new VisionError('E_BAD_REQUEST', 'expected {"image": "<base64>"}');
  return Buffer.from(m[1], 'base64');
}
