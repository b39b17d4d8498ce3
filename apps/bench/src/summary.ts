import type { CameraRun } from './cameras';
import { mean, percentile } from './stats';

export interface RunSummary {
  transport: string;
  cameras: number;
  fps: number;
  offeredFps: number;
  /** Results per second. */
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  /** Wire bytes per answered frame, client → server and back (headers, framing, handshakes included). */
  bytesUpPerFrame: number;
  bytesDownPerFrame: number;
  /** Mean JPEG size sent, for the bytes ratio. */
  imageBytes: number;
  outcomes: Record<string, number>;
  skippedAtSource: number;
  /** p95 latency of results sent in the first and in the last third of the run: growth means an unbounded queue. */
  p95FirstThird: number;
  p95LastThird: number;
}

export function summarize(run: CameraRun): RunSummary {
  const results = run.frames.filter((f) => f.outcome === 'result');
  const lat = results.map((f) => f.latencyMs);
  const outcomes: Record<string, number> = {};
  for (const f of run.frames) outcomes[f.outcome] = (outcomes[f.outcome] ?? 0) + 1;
  const n = Math.max(1, run.frames.length);
  return {
    transport: run.transport,
    cameras: run.cameras,
    fps: run.fps,
    offeredFps: run.cameras * run.fps,
    throughput: results.length / (run.elapsedMs / 1000),
    p50: percentile(lat, 50),
    p95: percentile(lat, 95),
    p99: percentile(lat, 99),
    bytesUpPerFrame: run.bytesUp / n,
    bytesDownPerFrame: run.bytesDown / n,
    imageBytes: mean(run.frames.map((f) => f.imageBytes)),
    outcomes,
    skippedAtSource: run.skippedAtSource,
    ...thirds(run),
  };
}

function thirds(run: CameraRun): { p95FirstThird: number; p95LastThird: number } {
  const span = run.fps > 0 ? Math.max(...run.frames.map((f) => f.sentAtMs), 1) : 1;
  const p95 = (from: number, to: number) =>
    percentile(
      run.frames.filter((f) => f.outcome === 'result' && f.sentAtMs >= from && f.sentAtMs < to).map((f) => f.latencyMs),
      95,
    );
  return { p95FirstThird: p95(0, span / 3), p95LastThird: p95((2 * span) / 3, span + 1) };
}
