import type { LetterboxGeometry } from './letterbox';

/** Letterbox padding grey (114), as Ultralytics pads. */
export const PAD_VALUE = 114;

/**
 * The letterboxed model input of one frame, as /255 float32 planes (CHW) at `offset` of `dst`:
 * `src` holds only the resized content (RGB, HWC, `resizedWidth × resizedHeight`), and the padding
 * around it is written here. Sending the content alone keeps the worker's event loop from
 * allocating and copying the padding with every frame (a 16:9 frame is 56 % of a 640² input).
 */
export function letterboxToChw(src: Uint8Array, g: LetterboxGeometry, dst: Float32Array, offset: number): void {
  const plane = g.inputWidth * g.inputHeight;
  const inv = 1 / 255;
  // Grey everywhere, then the content over it: filling only the margins measured no faster.
  dst.fill(PAD_VALUE * inv, offset, offset + 3 * plane);
  for (let y = 0, s = 0; y < g.resizedHeight; y++) {
    const row = offset + (g.padTop + y) * g.inputWidth + g.padLeft;
    for (let x = 0; x < g.resizedWidth; x++, s += 3) {
      dst[row + x] = src[s] * inv;
      dst[row + plane + x] = src[s + 1] * inv;
      dst[row + 2 * plane + x] = src[s + 2] * inv;
    }
  }
}
