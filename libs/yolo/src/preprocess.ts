import sharp from 'sharp';
import { sniffImageFormat, VisionError } from '@vision/wire';
import { letterboxGeometry, type LetterboxGeometry } from './letterbox';

export interface PreprocessOptions {
  /** Model input width and height. */
  inputWidth: number;
  inputHeight: number;
  /**
   * Largest decoded image accepted, in pixels. Checked from the header before decoding and again
   * by sharp's `limitInputPixels`, so a tiny PNG claiming 30000×30000 never allocates.
   * @defaultValue 40_000_000
   */
  maxInputPixels: number;
  /**
   * Largest interlaced/progressive or 16-bit image accepted, in pixels: those variants cost many
   * times a baseline decode in time and memory (a 309 KB interlaced 16-bit PNG took ~1 s and
   * ~300 MB at 6300²). @defaultValue 4_000_000
   */
  costlyMaxPixels: number;
  /** Decode budget per frame (sharp's timeout, whole seconds). @defaultValue 2 */
  timeoutS: number;
}

// Only the three formats the service accepts reach a decoder: libvips' other loaders (TIFF, SVG,
// PDF, HEIF, …) are a large attack surface nobody asked for. Applies to the whole process.
sharp.block({ operation: ['VipsForeignLoad'] });
sharp.unblock({ operation: ['VipsForeignLoadJpegBuffer', 'VipsForeignLoadPngBuffer', 'VipsForeignLoadWebpBuffer'] });
// One libvips thread per image: frames already decode side by side on libuv's pool, and splitting a
// camera frame across threads costs more CPU than it saves time (docs/benchmarks.md, "Decoding").
sharp.concurrency(1);

/**
 * A decoded frame resized for the model: RGB bytes in HWC order, the content only
 * (`geometry.resizedWidth × resizedHeight`); the padding is added in the inference thread.
 */
export interface LetterboxedFrame {
  pixels: Uint8Array;
  geometry: LetterboxGeometry;
}

/**
 * Where a decoded image lands in the model input: resized to `resize`, then (optionally) cropped to
 * `crop`; the result is `geometry.resizedWidth × resizedHeight`, placed at the geometry's padding.
 */
export interface FramePlacement {
  geometry: LetterboxGeometry;
  resize: { width: number; height: number };
  crop?: { left: number; top: number; width: number; height: number };
}

/** A task's rule for placing an `origWidth × origHeight` image in an `inputWidth × inputHeight` input. */
export type FrameFit = (
  origWidth: number,
  origHeight: number,
  inputWidth: number,
  inputHeight: number,
) => FramePlacement;

/** Ultralytics' detection letterbox (LetterBox, auto=False): scale to fit, pad the rest grey. */
export const letterboxFit: FrameFit = (origWidth, origHeight, inputWidth, inputHeight) => {
  const geometry = letterboxGeometry(origWidth, origHeight, inputWidth, inputHeight);
  return { geometry, resize: { width: geometry.resizedWidth, height: geometry.resizedHeight } };
};

/** `fitFrame` with the detection letterbox. */
export function letterbox(image: Uint8Array, opts: PreprocessOptions): Promise<LetterboxedFrame> {
  return fitFrame(image, opts, letterboxFit);
}

/**
 * Decodes one JPEG/PNG/WebP (EXIF orientation applied) and resizes (and crops) it as `fit` places
 * it, as RGB bytes. Decoding runs on libuv's pool (sharp), so frames decode in parallel while the
 * event loop stays free; the float conversion happens in the inference thread (`chw.ts`).
 */
export async function fitFrame(image: Uint8Array, opts: PreprocessOptions, fit: FrameFit): Promise<LetterboxedFrame> {
  if (image.length === 0) throw new VisionError('E_EMPTY_FRAME');
  if (!sniffImageFormat(image)) throw new VisionError('E_UNSUPPORTED_FORMAT');
  const input = Buffer.isBuffer(image) ? image : Buffer.from(image.buffer, image.byteOffset, image.length);
  const sharpOpts = { limitInputPixels: opts.maxInputPixels, failOn: 'error' as const };

  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(input, sharpOpts).metadata();
  } catch (err) {
    throw decodeError(err);
  }
  if (!meta.width || !meta.height) throw new VisionError('E_IMAGE_DECODE', 'the image header has no size');
  if (meta.width * meta.height > opts.maxInputPixels) {
    throw new VisionError(
      'E_IMAGE_TOO_LARGE',
      `the image is ${meta.width}×${meta.height}; the limit is ${opts.maxInputPixels} pixels`,
    );
  }
  if ((meta.isProgressive || meta.depth === 'ushort') && meta.width * meta.height > opts.costlyMaxPixels) {
    throw new VisionError(
      'E_IMAGE_TOO_COSTLY',
      `${meta.isProgressive ? 'progressive/interlaced' : '16-bit'} ${meta.width}×${meta.height}; ` +
        `the limit for those is ${opts.costlyMaxPixels} pixels`,
    );
  }
  // EXIF orientations 5–8 swap width and height once applied.
  const rotated = (meta.orientation ?? 1) >= 5;
  const w = rotated ? meta.height : meta.width;
  const h = rotated ? meta.width : meta.height;
  const placement = fit(w, h, opts.inputWidth, opts.inputHeight);
  const g = placement.geometry;

  let pixels: Buffer;
  try {
    const pipeline = sharp(input, sharpOpts)
      .timeout({ seconds: opts.timeoutS })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .resize(placement.resize.width, placement.resize.height, { fit: 'fill', kernel: 'linear' });
    // extract after resize crops the resized image (sharp's post-resize extraction).
    if (placement.crop) pipeline.extract(placement.crop);
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== g.resizedWidth || info.height !== g.resizedHeight) {
      throw new Error(`unexpected decoded layout ${info.width}×${info.height}×${info.channels}`);
    }
    pixels = data;
  } catch (err) {
    throw decodeError(err);
  }
  return { pixels, geometry: g };
}

function decodeError(err: unknown): VisionError {
  if (err instanceof VisionError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) return new VisionError('E_IMAGE_TOO_LARGE', msg.split('\n')[0], { cause: err });
  if (/timeout/i.test(msg))
    return new VisionError('E_IMAGE_TOO_COSTLY', `decode budget exceeded: ${msg.split('\n')[0]}`, { cause: err });
  return new VisionError('E_IMAGE_DECODE', `the image could not be decoded: ${msg.split('\n')[0]}`, { cause: err });
}
