import type { CameraSpec } from '../camera-spec';
import type { FrameSource, SourceHandlers } from '../frame-source';

/**
 * How an HTTP source is read when ffmpeg has to decode it: a multipart MJPEG stream (`mpjpeg`), a
 * snapshot URL polled at the camera's rate (`image2` re-fetches it for every frame), or anything
 * ffmpeg can probe (`auto`).
 */
export type HttpInput = 'mpjpeg' | 'snapshot' | 'auto';

/** What a kind's ffmpeg input arguments may depend on besides the camera. */
export interface InputContext {
  /** Socket I/O timeout of network inputs, in microseconds as ffmpeg takes it. */
  ioTimeoutUs: string;
  /** Set once a source read in Node asked for ffmpeg (see `SourceEnd`); undefined before. */
  readAs: HttpInput | undefined;
}

/** What a source read in Node needs besides the camera. */
export interface ReaderOptions {
  spec: CameraSpec;
  maxFrameBytes: number;
  /** Connect, response and between-bytes timeout. */
  ioTimeoutMs: number;
  scrub: (text: string) => string;
}

/** The fields of a camera entry a kind may check. */
export interface EntryFields {
  url: string;
  rtspTransport?: 'tcp' | 'udp';
  record?: boolean;
}

/** A wrong field of a camera entry, named as the API and the cameras file name it. */
export interface FieldIssue {
  field: keyof EntryFields;
  message: string;
}

/**
 * One kind of camera source: which URLs it owns, what it accepts of a camera entry, how its frames
 * are read, and how its URL is shown. Each kind is one file in this folder, listed once in
 * `source-kinds.ts`; every other part of the gateway asks the registry, never the kind's name.
 */
export interface SourceKindDefinition<Kind extends string = string> {
  /** The name the API shows as a camera's `source`. */
  readonly kind: Kind;
  /** URL schemes it owns, as `URL.protocol` spells them (`rtsp:`). */
  readonly schemes: readonly string[];
  /** How its URLs look, for the message that refuses an unknown one (`rtsp://`). */
  readonly urlForms: readonly string[];
  /** Whether it also owns bare absolute paths (`/clips/a.mp4`). */
  readonly ownsPaths?: boolean;
  /** Entry fields only this kind accepts; a camera of another kind that sets one is refused. */
  readonly ownFields?: readonly Exclude<keyof EntryFields, 'url' | 'record'>[];
  /**
   * Whether `record: true` may be set: `copy` where ffmpeg reads the camera's own encoded video and
   * can store it as it comes (one more output of the same child, no second connection, no encoding);
   * otherwise why not, as the refusal of the field says it.
   */
  readonly record: 'copy' | { refused: string };
  /** Checks of this kind's own (its URL's parameters, its own fields' combinations). */
  validate?(entry: EntryFields): FieldIssue[];
  /** ffmpeg's input arguments (through `-i`); frame thinning, scaling and JPEG output are common. */
  ffmpegInput(spec: CameraSpec, input: InputContext): string[];
  /**
   * A reader in Node used before ffmpeg (HTTP's MJPEG pass-through and snapshots); it may end asking
   * for ffmpeg. Kinds without one are always read by ffmpeg.
   */
  startReader?(options: ReaderOptions, on: SourceHandlers): FrameSource;
  /** The URL as logs and the API show it: without credentials. */
  redact(url: string): string;
  /** Whether the source's end stops the camera for good instead of a reconnect (a file not looped). */
  stopsAtEnd?(spec: CameraSpec): boolean;
}

/** For kinds whose URLs name nothing secret (a path, a device, a test pattern). */
export function shownAsIs(url: string): string {
  return url;
}
