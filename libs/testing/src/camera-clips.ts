import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { COLORS, drawScene, type Rgb } from './images';

const run = promisify(execFile);

/**
 * A clip in which one square of a fixture-model colour crosses a grey image from left to right at
 * `speed` px/s, once per loop: the clip lasts exactly one crossing, so played looped the square
 * moves without a jump except the wrap back to the left edge.
 */
export interface MovingSquare {
  width: number;
  height: number;
  fps: number;
  /** Side of the square, px. @defaultValue 64 */
  size?: number;
  /** Top edge of the square, px. */
  y: number;
  /** px per second. */
  speed: number;
  /** @defaultValue red */
  color?: Rgb;
}

/** The crossing's length, and where the square's left edge is `t` seconds into the clip. */
export function squarePath(m: MovingSquare): { seconds: number; x(t: number): number } {
  const span = m.width - (m.size ?? 64);
  const seconds = span / m.speed;
  return { seconds, x: (t) => (((t % seconds) + seconds) % seconds) * m.speed };
}

/**
 * Encodes the clip with ffmpeg's libx264 into `dir`: `h264` is an Annex-B stream with an access
 * unit delimiter per frame (what the test RTSP server serves), `mp4` a file source. One keyframe a
 * second, so a camera joining mid-stream waits at most a second.
 */
export async function encodeMovingSquare(
  dir: string,
  m: MovingSquare,
  format: 'h264' | 'mp4',
  ffmpeg = 'ffmpeg',
): Promise<string> {
  const size = m.size ?? 64;
  const { seconds } = squarePath(m);
  const [r, g, b] = m.color ?? COLORS.red;
  const hex = (c: readonly number[]) => `0x${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  const graph =
    `color=c=${hex(COLORS.grey)}:s=${m.width}x${m.height}:r=${m.fps}:d=${seconds}[bg];` +
    `color=c=${hex([r, g, b])}:s=${size}x${size}:r=${m.fps}:d=${seconds}[sq];` +
    `[bg][sq]overlay=x='t*${m.speed}':y=${m.y}:shortest=1`;
  const out = join(dir, `square-${m.width}x${m.height}-${m.fps}fps.${format}`);
  const codec = [
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-g',
    String(Math.max(1, Math.round(m.fps))),
    '-pix_fmt',
    'yuv420p',
  ];
  const container = format === 'h264' ? ['-x264-params', 'aud=1', '-f', 'h264'] : ['-f', 'mp4'];
  await run(ffmpeg, [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    graph,
    ...codec,
    ...container,
    out,
  ]);
  return out;
}

/** The clip's frames as JPEGs drawn with `drawScene` (for MJPEG sources): one per 1/fps of the crossing. */
export async function movingSquareJpegs(m: MovingSquare, quality = 90): Promise<Buffer[]> {
  const size = m.size ?? 64;
  const path = squarePath(m);
  const n = Math.max(1, Math.round(path.seconds * m.fps));
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      drawScene({
        width: m.width,
        height: m.height,
        background: COLORS.grey,
        format: 'jpeg',
        quality,
        rects: [{ x: Math.round(path.x(i / m.fps)), y: m.y, w: size, h: size, color: m.color ?? COLORS.red }],
      }),
    ),
  );
}
