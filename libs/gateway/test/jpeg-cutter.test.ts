import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { COLORS, drawScene } from '@vision/testing';
import { JpegCutter } from '../src/jpeg-cutter';

/** Feeds `stream` in chunks of random sizes (1 … maxChunk bytes) and returns the frames cut. */
function cut(stream: Buffer, maxFrameBytes: number, maxChunk: number, seed = 1): Buffer[] {
  const frames: Buffer[] = [];
  const cutter = new JpegCutter(maxFrameBytes, (f) => frames.push(f));
  let s = seed;
  for (let i = 0; i < stream.length;) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (s % maxChunk);
    cutter.push(stream.subarray(i, i + n));
    i += n;
  }
  return frames;
}

/** A JPEG whose APP1 segment carries a whole thumbnail JPEG (its own SOI … EOI). */
function withThumbnail(jpeg: Buffer, thumb: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Exif\0\0'), thumb]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

describe('JpegCutter', () => {
  it('cuts real JPEGs (progressive, stuffed bytes, thumbnail...) out of multipart, whatever the chunks', async () => {
    const scene = await drawScene({
      width: 320,
      height: 180,
      background: COLORS.grey,
      format: 'jpeg',
      rects: [{ x: 32, y: 20, w: 64, h: 64, color: COLORS.red }],
    });
    const noise = await sharp(randomBytes(160 * 90 * 3), { raw: { width: 160, height: 90, channels: 3 } })
      .jpeg({ quality: 95 })
      .toBuffer();
    const progressive = await sharp(noise).jpeg({ progressive: true }).toBuffer();
    const thumb = await sharp(scene).resize(40).jpeg().toBuffer();
    const frames = [scene, noise, progressive, withThumbnail(scene, thumb), scene];
    expect(noise.includes(Buffer.from([0xff, 0x00])), 'the noise image has stuffed bytes').toBe(true);
    const stream = Buffer.concat(
      frames.flatMap((f) => [
        Buffer.from(`--b\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.length}\r\n\r\n`),
        f,
        Buffer.from('\r\n'),
      ]),
    );
    for (const [maxChunk, seed] of [
      [1, 1],
      [7, 2],
      [1000, 3],
      [65536, 4],
    ]) {
      const got = cut(stream, 1024 * 1024, maxChunk, seed);
      expect(got.length, `chunks up to ${maxChunk}`).toBe(frames.length);
      got.forEach((f, i) => expect(f.equals(frames[i]), `frame ${i}, chunks up to ${maxChunk}`).toBe(true));
    }
  });

  it('skips a broken frame and keeps the next one', async () => {
    const good = await drawScene({ width: 64, height: 64, format: 'jpeg' });
    const broken = Buffer.from([0xff, 0xd8, 0x12, 0x34, 0x56]); // SOI, then no marker
    const truncated = good.subarray(0, good.length - 200); // its EOI never comes; the next SOI ends it
    const got = cut(Buffer.concat([broken, good, truncated, good]), 1024 * 1024, 100);
    expect(got.map((f) => f.equals(good))).toEqual([true, true]);
  });

  it('refuses a frame above the cap, and a stream without frames, with E_CAMERA_BAD_DATA', async () => {
    const big = await sharp(randomBytes(400 * 300 * 3), { raw: { width: 400, height: 300, channels: 3 } })
      .jpeg({ quality: 100 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(64 * 1024);
    expect(() => cut(big, 64 * 1024, 4096)).toThrow(
      expect.objectContaining({ code: 'E_CAMERA_BAD_DATA', message: expect.stringMatching(/exceeded/) }),
    );
    expect(() => cut(randomBytes(200 * 1024), 64 * 1024, 4096)).toThrow(
      expect.objectContaining({ code: 'E_CAMERA_BAD_DATA', message: expect.stringMatching(/no JPEG frame/) }),
    );
  });

  it('keeps its buffer bounded by one frame plus one chunk', async () => {
    const frame = await drawScene({ width: 320, height: 180, format: 'jpeg' });
    const cutter = new JpegCutter(256 * 1024, () => undefined);
    for (let i = 0; i < 200; i++) cutter.push(frame);
    const acc = (cutter as unknown as { acc: Buffer }).acc;
    expect(acc.length).toBeLessThanOrEqual(256 * 1024 + frame.length);
  });
});
