import type { ClientState } from '@vision/client';
import type { CameraState } from './camera-state';
import type { Detection, ErrorCode } from '@vision/wire';
import type { CameraSpec, SourceKind } from './camera-spec';
import type { SourceMode } from './frame-source';
import { sourceKinds } from './sources/registry';

/** Results per second are counted over this window. */
const RATE_WINDOW_MS = 5000;

export interface CameraCounts {
  /** Frames from the source (at the camera's fps). */
  in: number;
  /** Frames the edge answered (result or error). */
  sent: number;
  /** Frames a newer one replaced before they could be sent (latest frame wins). */
  skipped: number;
  results: number;
  errors: number;
  /** Source restarts after a failure, an end or a stall. */
  reconnects: number;
}

/** The newest detections of a camera: what an operator looks at to see the camera end to end. */
export interface LastResult {
  frameId: number;
  captureTs: number;
  /** When the result arrived (epoch ms). */
  at: number;
  /** Capture to result. */
  latencyMs: number;
  model: string;
  detections: Detection[];
}

/** A camera as the API shows it. The URL is redacted; nothing else can hold a credential. */
export interface CameraView {
  id: string;
  url: string;
  source: SourceKind;
  /** How frames are read right now: an ffmpeg child, MJPEG pass-through, or snapshot polling. */
  mode: SourceMode | null;
  fps: number;
  maxWidth: number;
  maxHeight: number;
  model: string | null;
  enabled: boolean;
  loop: boolean;
  state: CameraState;
  /** Epoch ms the state began. */
  since: number;
  stopReason: 'disabled' | 'paused' | 'ended' | 'removed' | null;
  paused: boolean;
  /** The last source error; it stays after the camera recovers (compare `at` with `since`). */
  error: { code: ErrorCode; message: string; at: number } | null;
  /** In backoff: when the next attempt starts. */
  retryInMs: number | null;
  /** Failed attempts since the camera last streamed. */
  attempt: number;
  /** The ffmpeg child, while there is one. */
  pid: number | null;
  edge: { state: ClientState; lastError: { code: string; at: number } | null };
  stats: {
    framesIn: number;
    sent: number;
    skipped: number;
    results: number;
    errors: number;
    reconnects: number;
    lastFrameId: number | null;
    lastFrameAt: number | null;
    lastFrameAgeMs: number | null;
    /** Over the last 5 s. */
    resultsPerSecond: number;
    /** Capture to result, over the last 256 results. */
    latencyP50Ms: number | null;
    latencyP95Ms: number | null;
  };
  lastResult: LastResult | null;
}

export interface ViewInput {
  spec: CameraSpec;
  state: CameraState;
  since: number;
  stopReason: CameraView['stopReason'] | undefined;
  paused: boolean;
  lastError: CameraView['error'] | undefined;
  retryAt: number | undefined;
  failures: number;
  mode: SourceMode | undefined;
  pid: number | undefined;
  counts: CameraCounts;
  last: { at: number; frameId: number } | undefined;
  results: readonly { at: number; latencyMs: number }[];
  lastResult: LastResult | undefined;
  lastEdgeError: { code: string; at: number } | undefined;
  edgeState: ClientState | undefined;
}

export function cameraView(v: ViewInput): CameraView {
  const now = Date.now();
  const latencies = v.results.map((r) => r.latencyMs).sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] : null;
  const s = v.spec;
  return {
    id: s.id,
    url: sourceKinds.named(s.kind).redact(s.url),
    source: s.kind,
    mode: v.mode ?? null,
    fps: s.fps,
    maxWidth: s.maxWidth,
    maxHeight: s.maxHeight,
    model: s.model ?? null,
    enabled: s.enabled,
    loop: s.loop,
    state: v.state,
    since: v.since,
    stopReason: v.stopReason ?? null,
    paused: v.paused,
    error: v.lastError ?? null,
    retryInMs: v.retryAt === undefined ? null : Math.max(0, v.retryAt - now),
    attempt: v.failures,
    pid: v.pid ?? null,
    edge: { state: v.edgeState ?? 'closed', lastError: v.lastEdgeError ?? null },
    stats: {
      framesIn: v.counts.in,
      sent: v.counts.sent,
      skipped: v.counts.skipped,
      results: v.counts.results,
      errors: v.counts.errors,
      reconnects: v.counts.reconnects,
      lastFrameId: v.last?.frameId ?? null,
      lastFrameAt: v.last?.at ?? null,
      lastFrameAgeMs: v.last ? now - v.last.at : null,
      resultsPerSecond: v.results.filter((r) => now - r.at <= RATE_WINDOW_MS).length / (RATE_WINDOW_MS / 1000),
      latencyP50Ms: pct(50),
      latencyP95Ms: pct(95),
    },
    lastResult: v.lastResult ?? null,
  };
}
