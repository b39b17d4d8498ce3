import { segmentTemplate } from '@vision/recording';
import { VisionError } from '@vision/wire';
import type { CameraSpec } from './camera-spec';
import { sourceKinds } from './sources/registry';
import type { HttpInput } from './sources/source-kind';

export type { HttpInput } from './sources/source-kind';

export interface FfmpegOptions {
  /** `-hwaccel` name; undefined: software decoding. */
  hwaccel: string | undefined;
  /** `-q:v` of the JPEGs written (2 best … 31). */
  jpegQuality: number;
  /** Socket I/O timeout of network inputs (the stall timeout). */
  ioTimeoutMs: number;
  /** Where recorded cameras' segments go, and their length; undefined: GATEWAY_RECORD_DIR is unset. */
  record: { dir: string; segmentSeconds: number } | undefined;
}

/**
 * ffmpeg's command line for one camera: its input, then at most `fps` frames a second scaled down
 * to fit maxWidth × maxHeight (never up), as JPEGs on stdout, each flushed as soon as it is encoded.
 *
 * Frames are thinned before scaling (a 25 fps camera at 5 fps scales 5 frames, not 25: about a
 * third less CPU than `-r`) by `select`: time is cut into 1/fps slots and the first frame of each
 * slot is kept, so a faster camera gives exactly `fps`, a slower one every frame and never a
 * duplicate; a timestamp that goes back (a camera restarting its clock) starts over. The time is
 * the stream's own (RTP, the file's) or, for MJPEG over HTTP, which has none, the frame's arrival.
 */
export function ffmpegArgs(spec: CameraSpec, o: FfmpegOptions, httpInput?: HttpInput): string[] {
  const input = sourceKinds.named(spec.kind).ffmpegInput(spec, {
    ioTimeoutUs: String(o.ioTimeoutMs * 1000),
    readAs: httpInput,
  });
  const f = String(spec.fps);
  const selected = [
    'isnan(prev_selected_t)',
    `gt(round(t*${f})\\,round(prev_selected_t*${f}))`,
    'lt(t\\,prev_selected_t)',
  ].join('+');
  const select = `select='${selected}'`;
  const scale = [
    `scale=w='min(iw,${spec.maxWidth})'`,
    `h='min(ih,${spec.maxHeight})'`,
    'force_original_aspect_ratio=decrease',
    'force_divisible_by=2',
  ].join(':');
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    ...(o.hwaccel ? ['-hwaccel', o.hwaccel] : []),
    ...input,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    `${select},${scale}`,
    '-fps_mode',
    'vfr',
    '-c:v',
    'mjpeg',
    '-q:v',
    String(o.jpegQuality),
    '-flush_packets',
    '1',
    '-f',
    'mjpeg',
    'pipe:1',
    ...recordOutput(spec, o),
  ];
}

/**
 * A recorded camera's second output of the same child (one connection to the camera): its video as
 * it comes (`-c copy`, no decoding or encoding), cut at keyframes into MPEG-TS segments of about
 * `segmentSeconds`, each named by the Unix second it was opened (`@vision/recording` reads them).
 */
function recordOutput(spec: CameraSpec, o: FfmpegOptions): string[] {
  if (!spec.record) return [];
  if (!o.record) throw new VisionError('E_CAMERA_INVALID', 'record: needs GATEWAY_RECORD_DIR on this gateway');
  return [
    ...['-map', '0:v:0', '-c:v', 'copy', '-an', '-sn', '-dn'],
    ...['-f', 'segment', '-segment_format', 'mpegts', '-segment_time', String(o.record.segmentSeconds)],
    ...['-reset_timestamps', '1', '-strftime', '1', segmentTemplate(o.record.dir, spec.id)],
  ];
}

const AUTH = /\b40[13]\b|unauthori[sz]ed|forbidden|authori[sz]ation failed/i;
const DECODER = anyOf(
  /device creation failed|device setup failed|no device available|could not dynamically load/,
  /unsupported codec|no decoder|decoder .* not found/,
);
const NOT_VIDEO = anyOf(
  /invalid data found|does not contain any stream|matches no streams|\b40[04]\b|\b410\b|not found/,
  /could not find codec|Invalid argument/,
);
const UNREACHABLE = anyOf(
  /connection refused|timed out|timeout|no route to host|network is unreachable|host is unreachable/,
  /name or service not known|temporary failure in name resolution|failed to resolve|no such file or directory/,
  /connection reset|broken pipe|i\/o error|server returned 5\d\d|failed: 5\d\d|end of file/,
);

/** One case-insensitive pattern that matches where any of `patterns` does. */
function anyOf(...patterns: RegExp[]): RegExp {
  return new RegExp(patterns.map((p) => p.source).join('|'), 'i');
}

/**
 * The stable code of an ffmpeg child that ended on its own, from its exit and what it said on
 * stderr (already scrubbed of credentials); the message quotes its last line.
 */
export function classifyExit(code: number | null, signal: NodeJS.Signals | null, stderr: string): VisionError {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const detail = (lines[lines.length - 1] ?? '').slice(0, 300);
  const what = code === 0 ? 'the source ended its stream (ffmpeg exited)' : `ffmpeg exited with ${code ?? signal}`;
  const message = detail ? `${what}: ${detail}` : what;
  if (code === 0) return new VisionError('E_CAMERA_ENDED', message);
  if (AUTH.test(stderr)) return new VisionError('E_CAMERA_AUTH', message);
  // "No such file" is a missing file, not a missing stream: unreachable, checked before "not found".
  if (/no such file or directory/i.test(stderr)) return new VisionError('E_CAMERA_UNREACHABLE', message);
  if (DECODER.test(stderr)) return new VisionError('E_CAMERA_DECODER', message);
  if (NOT_VIDEO.test(stderr)) return new VisionError('E_CAMERA_NOT_VIDEO', message);
  if (UNREACHABLE.test(stderr)) return new VisionError('E_CAMERA_UNREACHABLE', message);
  return new VisionError('E_CAMERA_BAD_DATA', message);
}
