import type { VisionError } from '@vision/wire';

/** How a camera's frames reach the gateway. */
export type SourceMode = 'ffmpeg' | 'passthrough' | 'snapshot';

/**
 * Why a source ended: a stable error, or (HTTP sources read in Node) a request to read the
 * camera through ffmpeg instead, because its frames do not fit or it is not MJPEG.
 */
export type SourceEnd = VisionError | { useFfmpeg: 'mpjpeg' | 'snapshot' | 'auto'; reason: string };

export interface SourceHandlers {
  /** A whole JPEG, at most the camera's fps and size. */
  frame(jpeg: Buffer): void;
  /** The source ended by itself; never called after `stop()`. */
  ended(why: SourceEnd): void;
}

/** A running source: an ffmpeg child, or an HTTP request read in Node. */
export interface FrameSource {
  readonly mode: SourceMode;
  /** The ffmpeg child's pid, while there is one. */
  readonly pid: number | undefined;
  /** Ends it; resolves once any child process has exited (been reaped). */
  stop(): Promise<void>;
}
