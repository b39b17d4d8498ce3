import { cpuCores } from './cpu-cores';
import type { ExecutionProviderName } from './config';

/**
 * Defaults that depend on the execution provider. On CPU: ONNX Runtime's own thread choice (0) ran
 * one thread on a 2-vCPU VM, so one thread per available CPU, one engine and batches of 2, which
 * is what a worker runs when the start-up fit (HOST_FIT, on) is off or cannot measure; the fit
 * replaces the unpinned ones with the best split of the cores and batch size it measures. A frame
 * that finds every engine idle runs on spinning threads across all the cores (lower latency at low
 * load, nothing taken from decoding under load); bulk images one at a time, never beside live
 * frames. On a GPU: ORT's threads (every batch size has its own session and pool), batches of 8,
 * no fit, and bulk images may fill batches.
 */
export function providerDefaults(provider: ExecutionProviderName): {
  intraOpThreads: number;
  spinSingleFrames: boolean;
  maxBatch: number;
  engines: number;
  hostFit: boolean;
  bulkMaxBatch: (maxBatch: number) => number;
  bulkTopUp: boolean;
} {
  return provider === 'cpu'
    ? {
        intraOpThreads: cpuCores(),
        spinSingleFrames: true,
        maxBatch: 2,
        engines: 1,
        hostFit: true,
        bulkMaxBatch: () => 1,
        bulkTopUp: false,
      }
    : {
        intraOpThreads: 0,
        spinSingleFrames: false,
        maxBatch: 8,
        engines: 1,
        hostFit: false,
        bulkMaxBatch: (maxBatch) => maxBatch,
        bulkTopUp: true,
      };
}

/** Which of the start-up fit's choices a setting made (the fit leaves those as they are). */
export interface FitPins {
  engines: boolean;
  intraOpThreads: boolean;
  maxBatch: boolean;
}

/** HOST_FIT as set or by provider, and which of the fit's choices settings made. */
export function hostFitSettings(
  set: { hostFit?: boolean; engines?: number; intraOpThreads?: number; maxBatch?: number },
  byProvider: { hostFit: boolean },
): { enabled: boolean; pinned: FitPins } {
  return {
    enabled: set.hostFit ?? byProvider.hostFit,
    pinned: {
      engines: set.engines !== undefined,
      intraOpThreads: set.intraOpThreads !== undefined,
      maxBatch: set.maxBatch !== undefined,
    },
  };
}

/**
 * Internal timings several libraries share: not settings. What lives in libs/config is every
 * setting's default (its schema in the `*-config.ts` files, `providerDefaults` above) and these;
 * a fixed number only one module uses stays beside it, with a comment saying what it bounds (a
 * repo-rules test holds every numeric module constant outside libs/config to one).
 */
export const TIMINGS = {
  /** How often a worker reports itself alive (edges count workers seen within 5 s). */
  workerHeartbeatMs: 1000,
  /** Pause after a failed queue read, doubled up to the maximum: a dead Redis never spins a core. */
  readBackoffMinMs: 100,
  readBackoffMaxMs: 2000,
  /** How long an idle worker read blocks; bounds how long a stop waits. */
  idleReadBlockMs: 1000,
  /** How often edges look for newly revoked tokens (open sockets close within about this). */
  revocationCheckMs: 2000,
  /** While a dependency stays down, how often its outage is logged again. */
  outageReminderMs: 30_000,
  /**
   * Readiness fails while the event loop ran later than `stallMs` within the last `windowMs` (sampled
   * every `intervalMs`).
   */
  loopWatch: { intervalMs: 100, windowMs: 5000, stallMs: 1000 },
  /** A watched file (cameras, site) is re-read once it has held still this long: a writer's bursts count once. */
  fileSettleMs: 200,
} as const;

/** Inference runtime choices that are not settings. */
export const INFERENCE = {
  /** Input size of exports whose height and width are dynamic and carry no `imgsz` (Ultralytics' default). */
  fallbackImageSize: 640,
  /**
   * Nice value of the inference threads: the event loop and decoding go first when the cores are
   * contended, and inference takes what is left (docs/models.md, "Preprocessing and postprocessing").
   */
  nice: 10,
  /**
   * With SPIN_SINGLE_FRAMES, a one-frame run spins only when every engine has been idle this long:
   * spinning threads go on spinning after the run, taking cores that decoding needs under load.
   */
  spinAfterIdleMs: 50,
  /**
   * The start-up fit's whole budget, sessions made included: a worker is ready this much later on a
   * CPU (the fit's test holds it under 5 s).
   */
  hostFitBudgetMs: 4000,
  /** Batch sizes the CPU fit tries (beyond these a frame waits longer for hardly more frames/s). */
  hostFitBatches: [1, 2],
  /** The most engines the CPU fit tries: each is a session with its own copy of the weights. */
  hostFitMaxEngines: 4,
} as const;
