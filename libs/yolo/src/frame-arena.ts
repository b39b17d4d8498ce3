import type { LetterboxGeometry } from './letterbox';

/** Letterbox padding grey (114), as Ultralytics pads. */
export const PAD_VALUE = 114;

/**
 * The model input of one session thread: `capacity` letterboxed frames as uint8 NHWC, back to back,
 * so a run of frames is one contiguous `[N, H, W, 3]` tensor the thread hands to ONNX Runtime as it
 * is. The worker's event loop writes each frame into its slot right before the run (decoded pixels
 * are only the resized content; the padding is written here), then transfers the buffer to the
 * session thread, which transfers it back with the result: the pixels are written once and never
 * copied between threads. (A SharedArrayBuffer would spare the transfers, but onnxruntime-node
 * refuses tensors over shared memory.)
 */
export class FrameArena {
  readonly frameBytes: number;
  readonly bytes: Uint8Array;

  constructor(
    readonly buffer: ArrayBuffer,
    readonly width: number,
    readonly height: number,
  ) {
    this.frameBytes = width * height * 3;
    this.bytes = new Uint8Array(buffer);
  }

  static create(width: number, height: number, capacity: number): FrameArena {
    return new FrameArena(new ArrayBuffer(width * height * 3 * capacity), width, height);
  }

  get capacity(): number {
    return this.bytes.length / this.frameBytes;
  }

  /** Writes one frame's content (RGB, `resizedWidth × resizedHeight`) into slot `slot`, padded grey around it. */
  write(slot: number, content: Uint8Array, g: LetterboxGeometry): void {
    const rowBytes = this.width * 3;
    const base = slot * this.frameBytes;
    const dst = this.bytes;
    const left = g.padLeft * 3;
    const contentRow = g.resizedWidth * 3;
    dst.fill(PAD_VALUE, base, base + g.padTop * rowBytes);
    for (let y = 0; y < g.resizedHeight; y++) {
      const row = base + (g.padTop + y) * rowBytes;
      dst.fill(PAD_VALUE, row, row + left);
      dst.set(content.subarray(y * contentRow, (y + 1) * contentRow), row + left);
      dst.fill(PAD_VALUE, row + left + contentRow, row + rowBytes);
    }
    dst.fill(PAD_VALUE, base + (g.padTop + g.resizedHeight) * rowBytes, base + this.frameBytes);
  }

  /** Slots `first … first + count - 1` as one contiguous run. */
  view(first: number, count: number): Uint8Array {
    return this.bytes.subarray(first * this.frameBytes, (first + count) * this.frameBytes);
  }
}

/**
 * NHWC uint8 frames to /255 NCHW float32, for exports served as they are (`SERVING_GRAPH=false`):
 * the serving graph does this on the execution provider instead.
 */
export function nhwcToChw(src: Uint8Array, frames: number, plane: number, dst: Float32Array): void {
  const inv = 1 / 255;
  for (let f = 0; f < frames; f++) {
    const s0 = f * plane * 3;
    const d0 = f * plane * 3;
    for (let p = 0, s = s0; p < plane; p++, s += 3) {
      dst[d0 + p] = src[s] * inv;
      dst[d0 + plane + p] = src[s + 1] * inv;
      dst[d0 + 2 * plane + p] = src[s + 2] * inv;
    }
  }
}
