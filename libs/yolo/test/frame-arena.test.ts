import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageFixturesDir } from '@vision/testing';
import { FrameArena, letterbox, nhwcToChw, PAD_VALUE } from '../src';

const OPTS = { inputWidth: 640, inputHeight: 640, maxInputPixels: 40_000_000, costlyMaxPixels: 4_000_000, timeoutS: 2 };

/** The model input the way sharp pads it (`extend`), as HWC bytes: what the arena must hold. */
async function paddedBySharp(image: Buffer, g: Awaited<ReturnType<typeof letterbox>>['geometry']): Promise<Buffer> {
  return sharp(image)
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(g.resizedWidth, g.resizedHeight, { fit: 'fill', kernel: 'linear' })
    .extend({
      top: g.padTop,
      bottom: g.padBottom,
      left: g.padLeft,
      right: g.padRight,
      background: { r: PAD_VALUE, g: PAD_VALUE, b: PAD_VALUE },
    })
    .raw()
    .toBuffer();
}

/**
 * The first index where two byte or float arrays differ, or -1 (not toEqual: its diff of a million
 * values takes seconds).
 */
const firstDifference = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
};

describe('FrameArena', () => {
  // Landscape frames are padded above and below; the portrait one (a fixture turned upright) left and right.
  const cases: [string, () => Promise<Buffer>][] = [
    ['camera-1280x720.jpg', () => readFile(join(imageFixturesDir(), 'camera-1280x720.jpg'))],
    ['chelsea-640x480.jpg', () => readFile(join(imageFixturesDir(), 'chelsea-640x480.jpg'))],
    [
      'rocket-1280x720.jpg turned to 720×1280',
      async () =>
        sharp(await readFile(join(imageFixturesDir(), 'rocket-1280x720.jpg')))
          .rotate(90)
          .jpeg()
          .toBuffer(),
    ],
  ];
  it.each(cases)(
    'writes the content-only pixels of %s into its slot padded exactly as sharp would',
    async (_name, load) => {
      const image = await load();
      const frame = await letterbox(image, OPTS);
      expect(frame.pixels.length).toBe(frame.geometry.resizedWidth * frame.geometry.resizedHeight * 3);
      expect(
        frame.geometry.padTop + frame.geometry.padBottom + frame.geometry.padLeft + frame.geometry.padRight,
      ).toBeGreaterThan(0);
      // Slot 1 of a dirty arena, as a reused arena is: slots 0 and 2 stay as they were.
      const arena = FrameArena.create(640, 640, 3);
      arena.bytes.fill(7);
      arena.write(1, frame.pixels, frame.geometry);
      const expected = await paddedBySharp(image, frame.geometry);
      expect(firstDifference(arena.view(1, 1), expected)).toBe(-1);
      expect(arena.view(0, 1).every((v) => v === 7) && arena.view(2, 1).every((v) => v === 7)).toBe(true);
      // The export-as-it-is path: /255 planes, the same floats the model always saw.
      const plane = 640 * 640;
      const floats = new Float32Array(3 * plane);
      nhwcToChw(arena.view(1, 1), 1, plane, floats);
      const reference = new Float32Array(3 * plane);
      for (let p = 0; p < plane; p++)
        for (let c = 0; c < 3; c++) reference[c * plane + p] = expected[3 * p + c] * (1 / 255);
      expect(firstDifference(floats, reference)).toBe(-1);
    },
  );
});
