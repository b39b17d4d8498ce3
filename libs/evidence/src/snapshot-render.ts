import sharp from 'sharp';

export interface RenderOptions {
  /** Wider frames are scaled down to this width (never up); undefined: as captured. */
  maxWidth: number | undefined;
  quality: number;
  /** Decoding refuses larger images (sharp's `limitInputPixels`). */
  maxInputPixels: number;
}

export interface Rendered {
  full: Buffer;
  crop: Buffer;
  width: number;
  height: number;
}

/**
 * The frame as a JPEG and the crop of the box from the frame as captured (before any downscale, so
 * a small object keeps its pixels). The box is clamped to the image and at least one pixel wide.
 */
export async function renderSnapshot(
  image: Buffer,
  box: readonly [number, number, number, number],
  opts: RenderOptions,
): Promise<Rendered> {
  const decoded = sharp(image, { limitInputPixels: opts.maxInputPixels, failOn: 'error' });
  const { data, info } = await decoded.raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } } as const;
  const jpeg = { quality: opts.quality, mozjpeg: false };
  const left = clamp(Math.floor(box[0]), 0, info.width - 1);
  const top = clamp(Math.floor(box[1]), 0, info.height - 1);
  const right = clamp(Math.ceil(box[2]), left + 1, info.width);
  const bottom = clamp(Math.ceil(box[3]), top + 1, info.height);
  const full = sharp(data, raw);
  if (opts.maxWidth && info.width > opts.maxWidth) full.resize({ width: opts.maxWidth, withoutEnlargement: true });
  const [fullOut, crop] = await Promise.all([
    full.jpeg(jpeg).toBuffer({ resolveWithObject: true }),
    sharp(data, raw)
      .extract({ left, top, width: right - left, height: bottom - top })
      .jpeg(jpeg)
      .toBuffer(),
  ]);
  return { full: fullOut.data, crop, width: fullOut.info.width, height: fullOut.info.height };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
