import type { Rect } from './images';

/**
 * A YUV4MPEG2 clip (4:2:0, full-range BT.601) of solid rectangles on grey, for Chromium's fake
 * camera (`--use-file-for-fake-video-capture`). Every frame is the same scene, so what the page
 * sends is known to the pixel.
 */
export function y4mClip(
  width: number,
  height: number,
  frames: number,
  rects: readonly Rect[],
  background: readonly [number, number, number] = [128, 128, 128],
): Buffer {
  const rgbAt = (x: number, y: number) => {
    for (const r of rects) if (x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h) return r.color;
    return background;
  };
  const yPlane = Buffer.alloc(width * height);
  const cw = width / 2;
  const ch = height / 2;
  const uPlane = Buffer.alloc(cw * ch);
  const vPlane = Buffer.alloc(cw * ch);
  const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgbAt(x, y);
      yPlane[y * width + x] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      const [r, g, b] = rgbAt(2 * x, 2 * y);
      uPlane[y * cw + x] = clamp(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
      vPlane[y * cw + x] = clamp(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
    }
  }
  const frame = Buffer.concat([Buffer.from('FRAME\n'), yPlane, uPlane, vPlane]);
  return Buffer.concat([
    Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`),
    ...Array.from({ length: frames }, () => frame),
  ]);
}
