import sharp from 'sharp';

export type Rgb = readonly [number, number, number];

export const COLORS = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  white: [255, 255, 255],
  grey: [114, 114, 114],
} as const satisfies Record<string, Rgb>;

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
  color: Rgb;
}

export interface SceneSpec {
  width: number;
  height: number;
  /** @defaultValue white */
  background?: Rgb;
  rects?: Rect[];
  /** @defaultValue 'png' */
  format?: 'jpeg' | 'png' | 'webp';
  /** Lossy quality for JPEG / WebP. @defaultValue 95 */
  quality?: number;
  /** Store the pixels rotated and tag them with this EXIF orientation, so a correct decoder shows `rects` as given. */
  exifOrientation?: 6 | 8 | 3;
}

/** Draws flat rectangles on a background and encodes the result: fixtures with known pixels. */
export async function drawScene(spec: SceneSpec): Promise<Buffer> {
  const { width, height } = spec;
  const bg = spec.background ?? COLORS.white;
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) px.set(bg, i * 3);
  for (const r of spec.rects ?? []) {
    for (let y = Math.max(0, r.y); y < Math.min(height, r.y + r.h); y++) {
      for (let x = Math.max(0, r.x); x < Math.min(width, r.x + r.w); x++) px.set(r.color, (y * width + x) * 3);
    }
  }
  let img = sharp(px, { raw: { width, height, channels: 3 } });
  if (spec.exifOrientation) {
    // Orientation 6 means "rotate 90° clockwise to display", so store it rotated counter-clockwise.
    const storedRotation = { 6: 270, 8: 90, 3: 180 }[spec.exifOrientation];
    img = sharp(await img.rotate(storedRotation).png().toBuffer()).withMetadata({ orientation: spec.exifOrientation });
  }
  const quality = spec.quality ?? 95;
  switch (spec.format ?? 'png') {
    case 'jpeg':
      return img.jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
    case 'webp':
      return img.webp({ quality }).toBuffer();
    case 'png':
      return img.png().toBuffer();
  }
}
