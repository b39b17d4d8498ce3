import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageFixturesDir } from '@vision/testing';
import { letterbox } from '../src';
import { letterboxToChw, PAD_VALUE } from '../src/chw';

const OPTS = { inputWidth: 640, inputHeight: 640, maxInputPixels: 40_000_000, costlyMaxPixels: 4_000_000, timeoutS: 2 };

/** The model input the way sharp pads it (`extend`), as CHW floats: what the content-only path must equal. */
async function paddedBySharp(image: Buffer, g: Awaited<ReturnType<typeof letterbox>>['geometry']): Promise<Float32Array> {
  const hwc = await sharp(image)
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(g.resizedWidth, g.resizedHeight, { fit: 'fill', kernel: 'linear' })
    .extend({ top: g.padTop, bottom: g.padBottom, left: g.padLeft, right: g.padRight, background: { r: PAD_VALUE, g: PAD_VALUE, b: PAD_VALUE } })
    .raw()
    .toBuffer();
  const plane = g.inputWidth * g.inputHeight;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = hwc[3 * p + c] * (1 / 255);
  return out;
}

describe('letterboxToChw', () => {
  // Landscape frames are padded above and below; the portrait one (a fixture turned upright) left and right.
  const cases: [string, () => Promise<Buffer>][] = [
    ['camera-1280x720.jpg', () => readFile(join(imageFixturesDir(), 'camera-1280x720.jpg'))],
    ['chelsea-640x480.jpg', () => readFile(join(imageFixturesDir(), 'chelsea-640x480.jpg'))],
    ['rocket-1280x720.jpg turned to 720×1280', async () => sharp(await readFile(join(imageFixturesDir(), 'rocket-1280x720.jpg'))).rotate(90).jpeg().toBuffer()],
  ];
  it.each(cases)('pads the content-only pixels of %s exactly as sharp would', async (_name, load) => {
    const image = await load();
    const frame = await letterbox(image, OPTS);
    expect(frame.pixels.length).toBe(frame.geometry.resizedWidth * frame.geometry.resizedHeight * 3);
    expect(frame.geometry.padTop + frame.geometry.padBottom + frame.geometry.padLeft + frame.geometry.padRight).toBeGreaterThan(0);
    // Written at an offset into a dirty buffer, as the engine's reused batch tensor is.
    const plane = 640 * 640;
    const dst = new Float32Array(4 * plane).fill(-1);
    letterboxToChw(frame.pixels, frame.geometry, dst, plane);
    expect(dst[0]).toBe(-1);
    const expected = await paddedBySharp(image, frame.geometry);
    const got = dst.subarray(plane);
    // The first differing index (not toEqual: its diff of 1.2 M floats takes seconds).
    expect(got.length).toBe(expected.length);
    expect(got.findIndex((v, i) => v !== expected[i])).toBe(-1);
  });
});
