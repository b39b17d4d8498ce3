import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cameraDir, segmentNames, withStats, type Segment } from './segments';

/**
 * A camera's newest segment written to within this long is being recorded: a window beyond it is
 * still to come (`pending`), not lost. ffmpeg writes a segment several times a second, so ten
 * seconds allows for a slow disk without calling a camera that stopped recording live for long.
 */
const LIVE_WITHIN_MS = 10_000;
/** The least `retryAfterMs` of a pending clip: no point asking again sooner. */
const MIN_RETRY_MS = 1000;
/** ffmpeg's last words kept for the error message. */
const STDERR_TAIL_BYTES = 2048;

export interface ClipOptions {
  /** The recording folder (the gateway's GATEWAY_RECORD_DIR). */
  dir: string;
  camera: string;
  /** The window, Unix ms. */
  fromMs: number;
  toMs: number;
  /** The largest clip returned; a window whose segments hold more is refused (`ClipError` `too-large`). */
  maxBytes: number;
  ffmpegPath: string;
  /** ffmpeg is killed after this long (`ClipError` `timeout`). */
  timeoutMs: number;
}

/**
 * What `buildClip` found:
 * - `ready`: an MP4 of the whole segments that cover the window (so it may start up to one segment
 *   before `fromMs` and end up to one segment after `toMs`); `partial` when the recording does not
 *   reach one end of the window (deleted by retention, or recording stopped or started within it).
 * - `pending`: the camera is being recorded but not yet up to `toMs`; ask again after `retryAfterMs`.
 * - `gone`: nothing of the window is on disk (never recorded, or deleted by retention or the budget).
 */
export type ClipResult =
  | {
      status: 'ready';
      mp4: Buffer;
      /** What the clip covers (segment bounds), Unix ms. */
      fromMs: number;
      toMs: number;
      segments: number;
      partial: boolean;
    }
  | { status: 'pending'; recordedUntilMs: number; retryAfterMs: number }
  | { status: 'gone' };

export type ClipFailure = 'invalid' | 'too-large' | 'timeout' | 'ffmpeg';

/** A clip that could not be made although its segments are there (or a window that makes no sense). */
export class ClipError extends Error {
  constructor(
    readonly reason: ClipFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ClipError';
  }
}

/**
 * The recording of one camera from `fromMs` to `toMs` as an MP4, remuxed without re-encoding
 * (ffmpeg's concat demuxer, `-c copy`, `-movflags +faststart`). The MP4 is written to a temporary
 * folder, read, and the folder deleted whatever happens.
 */
export async function buildClip(o: ClipOptions): Promise<ClipResult> {
  if (!(Number.isFinite(o.fromMs) && Number.isFinite(o.toMs) && o.fromMs < o.toMs))
    throw new ClipError('invalid', 'the window must have fromMs < toMs');
  const names = await segmentNames(cameraDir(o.dir, o.camera));
  // By name, a segment ends no later than the next one starts: only those that may cover the
  // window (and the newest, whose end says how far the recording got) are looked at on disk.
  const maybe = names.filter(
    (s, i) => s.startMs < o.toMs && (i === names.length - 1 || names[i + 1].startMs > o.fromMs),
  );
  const newest = names[names.length - 1];
  const segments = await withStats(newest && !maybe.includes(newest) ? [...maybe, newest] : maybe);
  const last = segments[segments.length - 1];
  const now = Date.now();
  if (last && last.endMs < o.toMs && (now - last.endMs <= LIVE_WITHIN_MS || o.toMs > now))
    return {
      status: 'pending',
      recordedUntilMs: last.endMs,
      retryAfterMs: Math.max(MIN_RETRY_MS, o.toMs - last.endMs),
    };
  const covering = segments.filter((s) => s.startMs < o.toMs && s.endMs > o.fromMs);
  if (!covering.length) return { status: 'gone' };
  const bytes = covering.reduce((n, s) => n + s.bytes, 0);
  if (bytes > o.maxBytes)
    throw new ClipError('too-large', `the window's segments hold ${bytes} bytes, over the ${o.maxBytes} allowed`);
  const mp4 = await remux(covering, o);
  const first = covering[0];
  const end = covering[covering.length - 1];
  // The names have whole seconds: a segment opened up to a second after fromMs still covers it.
  const partial = first.startMs > o.fromMs + 1000 || end.endMs < o.toMs;
  return { status: 'ready', mp4, fromMs: first.startMs, toMs: end.endMs, segments: covering.length, partial };
}

async function remux(segments: Segment[], o: ClipOptions): Promise<Buffer> {
  const tmp = await mkdtemp(join(tmpdir(), 'vision-clip-'));
  try {
    const list = join(tmp, 'segments.txt');
    const out = join(tmp, 'clip.mp4');
    const quote = (p: string) => `'${p.replace(/'/g, "'\\''")}'`;
    await writeFile(list, `ffconcat version 1.0\n${segments.map((s) => `file ${quote(s.path)}\n`).join('')}`);
    await runFfmpeg(
      o.ffmpegPath,
      [
        ...['-hide_banner', '-loglevel', 'error', '-nostdin'],
        ...['-f', 'concat', '-safe', '0', '-i', list],
        ...['-map', '0:v', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', '-y', out],
      ],
      o.timeoutMs,
    );
    const size = (await stat(out)).size;
    if (size > o.maxBytes)
      throw new ClipError('too-large', `the clip is ${size} bytes, over the ${o.maxBytes} allowed`);
    return await readFile(out);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function runFfmpeg(path: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-STDERR_TAIL_BYTES);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ClipError('ffmpeg', `cannot run ${path}: ${err.code ?? err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new ClipError('timeout', `ffmpeg took over ${timeoutMs} ms and was killed`));
      if (code === 0) return resolve();
      const lastLine = stderr.trim().split('\n').pop() ?? '';
      reject(new ClipError('ffmpeg', `ffmpeg exited with ${code ?? signal}${lastLine ? `: ${lastLine}` : ''}`));
    });
  });
}
