import { spawn, type ChildProcess } from 'node:child_process';
import { VisionError } from '@vision/wire';
import { classifyExit } from './ffmpeg-args';
import type { FrameSource, SourceHandlers } from './frame-source';
import { JpegCutter } from './jpeg-cutter';

/** ffmpeg's last words kept for the error message (its stderr is otherwise discarded). */
const STDERR_TAIL_BYTES = 4096;

export interface FfmpegSourceOptions {
  ffmpegPath: string;
  args: string[];
  maxFrameBytes: number;
  /** After SIGTERM, how long before SIGKILL. */
  killGraceMs: number;
  /** Removes the camera's credentials from anything ffmpeg says. */
  scrub: (text: string) => string;
}

/**
 * Children alive in this process. If the process dies without stopping its cameras (an uncaught
 * error), they are killed on the way out; once the gateway is gone, a child that still runs
 * would also die at its next write (EPIPE), but a stalled one would not.
 */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One ffmpeg child writing JPEGs to a pipe, cut into frames. */
export function startFfmpegSource(o: FfmpegSourceOptions, on: SourceHandlers): FrameSource {
  let stopping = false;
  let finished = false;
  let stderr = '';
  const child = spawn(o.ffmpegPath, o.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve();
      if (stopping || finished) return;
      finished = true;
      on.ended(classifyExit(code, signal, o.scrub(stderr)));
    });
  });
  const fail = (err: VisionError) => {
    if (stopping || finished) return;
    finished = true;
    on.ended(err);
    kill();
  };
  child.once('error', (err: NodeJS.ErrnoException) => {
    // spawn failed (no close follows when the process never started) or a kill failed.
    if (child.pid === undefined) {
      live.delete(child);
      const missing = err.code === 'ENOENT' || err.code === 'EACCES';
      fail(
        new VisionError(
          missing ? 'E_CAMERA_FFMPEG_MISSING' : 'E_CAMERA_BAD_DATA',
          `cannot run ${o.ffmpegPath}: ${err.code ?? err.message}`,
        ),
      );
    }
  });
  const cutter = new JpegCutter(o.maxFrameBytes, (jpeg) => {
    if (!stopping && !finished) on.frame(jpeg);
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    if (stopping || finished) return;
    try {
      cutter.push(chunk);
    } catch (err) {
      fail(err as VisionError);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-STDERR_TAIL_BYTES);
  });

  let killTimer: NodeJS.Timeout | undefined;
  function kill(): void {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null || killTimer) return;
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), o.killGraceMs);
    void exited.then(() => clearTimeout(killTimer));
  }

  return {
    mode: 'ffmpeg',
    get pid() {
      return child.pid !== undefined && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    async stop() {
      stopping = true;
      if (child.pid === undefined) return;
      kill();
      await exited;
    },
  };
}
