import type { FitPins } from '@vision/config';
import type { Logger } from './logger';
import type { RunFrame, SessionThread } from './session-thread-client';

/** How a model runs on the host: sessions running batches at once, ORT threads each, frames per batch. */
export interface Placement {
  engines: number;
  intraOpThreads: number;
  maxBatch: number;
}

/** One placement the fit ran, and the frames per second its engines gave together. */
export interface FitMeasurement extends Placement {
  framesPerSecond: number;
}

/** What the fit did: its choice, every measurement, and its time (sessions made included). */
export interface FitReport {
  chosen: Placement;
  measured: FitMeasurement[];
  ms: number;
  /** Why it chose without measuring everything (`pinned`, or the budget ran out), if it did. */
  stopped?: string;
}

export interface FitOptions {
  /** The cores the model's engines share. */
  cores: number;
  /** Choices settings made: the fit keeps them. */
  pinned: FitPins;
  /** Batch sizes to try (unpinned, dynamic-batch models). */
  batches: readonly number[];
  /** The most engines to try (each is a session with its own copy of the weights). */
  maxEngines: number;
  /** The whole fit, sessions made included. */
  budgetMs: number;
}

/** A split of the cores: engines, each with its ORT threads. */
export interface Split {
  engines: number;
  intraOpThreads: number;
}

/** Runs of a placement before its clock starts (one once it ran at its size before). */
const WARM_RUNS = 3;

/** Interleaved rounds per phase. */
const ROUNDS = 3;

/** Runs per engine that settle a measurement before its window ends (a small model's runs take a millisecond). */
const SETTLED_RUNS = 30;

/** Placements within this fraction of the best count as equal: the one that answers a frame sooner wins. */
const TIE = 0.03;

/**
 * The splits and batch sizes the fit may choose from: every split of the cores into equal engines
 * (up to `maxEngines`), and the batch sizes, each narrowed to what settings pinned.
 */
export function fitCandidates(
  o: Pick<FitOptions, 'cores' | 'pinned' | 'batches' | 'maxEngines'>,
  current: Placement,
  batch: number | 'dynamic',
): { splits: Split[]; batches: number[] } {
  const { pinned } = o;
  let splits: Split[];
  if (pinned.engines)
    splits = [
      {
        engines: current.engines,
        intraOpThreads: pinned.intraOpThreads
          ? current.intraOpThreads
          : Math.max(1, Math.floor(o.cores / current.engines)),
      },
    ];
  else if (pinned.intraOpThreads)
    splits = [
      {
        engines: current.intraOpThreads > 0 ? Math.max(1, Math.floor(o.cores / current.intraOpThreads)) : 1,
        intraOpThreads: current.intraOpThreads,
      },
    ];
  else
    splits = Array.from({ length: Math.min(o.cores, o.maxEngines) }, (_, i) => i + 1)
      .filter((engines) => o.cores % engines === 0)
      .map((engines) => ({ engines, intraOpThreads: o.cores / engines }));
  // A static-batch model runs its own batch whatever the worker gathers.
  const batches = pinned.maxBatch || batch !== 'dynamic' ? [current.maxBatch] : [...o.batches];
  return { splits, batches };
}

/**
 * Fits the model to the host while it loads: first the splits of the cores (at the middle batch
 * size), then the batch sizes on the best split, each phase in interleaved rounds (so a neighbour's
 * burst on a shared host slows every candidate alike), back to back on a grey frame, within
 * `budgetMs` in all. It keeps the fastest; among placements within 3 % of it, the one with fewer
 * engines, then the smaller batch (a frame then waits less). Returns the chosen engines, started and
 * warm; the others are closed. `start` makes a split's session threads.
 */
export async function fitHost(
  o: FitOptions,
  current: Placement,
  batch: number | 'dynamic',
  frame: RunFrame,
  start: (split: Split) => Promise<SessionThread[]>,
  log: Logger,
): Promise<{ placement: Placement; threads: SessionThread[]; report: FitReport }> {
  const began = performance.now();
  const deadline = began + o.budgetMs;
  const { splits, batches } = fitCandidates(o, current, batch);
  const started = new Map<Split, SessionThread[]>();
  const warmed = new Set<string>();
  const pinned = splits.length * batches.length === 1;
  let measured: FitMeasurement[] = [];
  let stopped: string | undefined = pinned ? 'pinned' : undefined;
  try {
    if (!pinned) {
      // Made side by side: making a session is mostly graph optimisation on one core.
      const made = await Promise.allSettled(splits.map((split) => start(split)));
      made.forEach((m, i) => m.status === 'fulfilled' && started.set(splits[i], m.value));
      const failed = made.find((m) => m.status === 'rejected');
      if (failed) throw failed.reason;
      // The splits at the smallest batch: its runs are the shortest, so the most of them fit.
      const firstBatch = batches[0];
      // The split matters most (an engine per core against one on every core): most of what is left.
      const share = batches.length > 1 ? 0.6 : 1;
      const bySplit = await compare(
        splits.map((split) => ({ ...split, maxBatch: firstBatch })),
        started,
        warmed,
        frame,
        performance.now() + (deadline - performance.now()) * share,
      );
      measured = bySplit ?? [];
      if (bySplit && batches.length > 1) {
        const best = ranked(bySplit)[0];
        const byBatch = await compare(
          batches.map((maxBatch) => ({ ...best, maxBatch })),
          started,
          warmed,
          frame,
          deadline,
        );
        // The batch sizes ran on one split in one phase: they decide among themselves.
        if (byBatch) measured = [...bySplit.filter((m) => m !== best), ...byBatch];
        else stopped = `budget of ${o.budgetMs} ms spent before the batch sizes`;
      } else if (!bySplit) stopped = `budget of ${o.budgetMs} ms spent before the splits ran`;
    }
  } catch (err) {
    await Promise.all([...started.values()].flat().map((t) => t.close()));
    throw err;
  }
  // Nothing measured (pinned, or not one run fitted the budget): the first split at the batch size given.
  const chosen = choose(measured, {
    ...splits[0],
    maxBatch: batches.includes(current.maxBatch) ? current.maxBatch : batches[0],
  });
  const kept = [...started.keys()].find(
    (s) => s.engines === chosen.engines && s.intraOpThreads === chosen.intraOpThreads,
  );
  await Promise.all([...started].flatMap(([s, threads]) => (s === kept ? [] : threads.map((t) => t.close()))));
  const report: FitReport = {
    chosen,
    measured,
    ms: Math.round(performance.now() - began),
    ...(stopped && { stopped }),
  };
  log.info(report, pinned ? 'host fit skipped: settings pin it' : 'host fit');
  return { placement: chosen, threads: (kept && started.get(kept)) ?? (await start(chosen)), report };
}

/**
 * Frames per second of each placement (its split's threads all running its batch size back to back),
 * measured in ROUNDS interleaved rounds that end by `until`, after warm-up runs of each; those that
 * got no run before `until` are left out (undefined: none did).
 */
async function compare(
  placements: Placement[],
  started: Map<Split, SessionThread[]>,
  warmed: Set<string>,
  frame: RunFrame,
  until: number,
): Promise<FitMeasurement[] | undefined> {
  const threadsOf = (p: Placement) =>
    [...started].find(([s]) => s.engines === p.engines && s.intraOpThreads === p.intraOpThreads)![1];
  const framesOf = (p: Placement) => Array.from({ length: p.maxBatch }, () => frame);
  // Warm-up runs before any clock starts: a session's first runs at a size are slow ones (ONNX
  // Runtime plans and grows its memory). The slowest placement's last one says what a run costs.
  let slowestRunMs = 0;
  for (const p of placements) {
    let runMs = 0;
    const key = `${p.engines}×${p.intraOpThreads}@${p.maxBatch}`;
    for (let i = 0; i < (warmed.has(key) ? 1 : WARM_RUNS); i++) {
      const t0 = performance.now();
      await Promise.all(threadsOf(p).map((t) => t.run(framesOf(p))));
      runMs = performance.now() - t0;
    }
    warmed.add(key);
    slowestRunMs = Math.max(slowestRunMs, runMs);
  }
  const frames = placements.map(() => 0);
  const ms = placements.map(() => 0);
  rounds: for (let round = 0; round < ROUNDS; round++) {
    for (const [i, p] of placements.entries()) {
      // No run starts that would end past `until`: a round cut short still counts what it measured.
      if (performance.now() + slowestRunMs > until) break rounds;
      const windowMs = (until - performance.now()) / ((ROUNDS - round) * placements.length - i);
      const r = await measure(threadsOf(p), framesOf(p), windowMs);
      frames[i] += r.frames;
      ms[i] += r.ms;
    }
  }
  const measured = placements.flatMap((p, i) =>
    ms[i] > 0 ? [{ ...p, framesPerSecond: (frames[i] * 1000) / ms[i] }] : [],
  );
  return measured.length ? measured : undefined;
}

/**
 * `threads` all running `frames` back to back for about `windowMs` (each at least once, and at most
 * SETTLED_RUNS times): the frames they did at their own rates over the longest one's milliseconds.
 */
async function measure(
  threads: SessionThread[],
  frames: RunFrame[],
  windowMs: number,
): Promise<{ frames: number; ms: number }> {
  const t0 = performance.now();
  const end = t0 + windowMs;
  const done = await Promise.all(
    threads.map(async (t) => {
      let runs = 0;
      let now: number;
      do {
        await t.run(frames);
        runs++;
        now = performance.now();
      } while (runs < SETTLED_RUNS && now < end);
      return { runs, ms: now - t0 };
    }),
  );
  const rate = done.reduce((a, d) => a + (d.runs * frames.length) / d.ms, 0);
  const ms = Math.max(...done.map((d) => d.ms));
  return { frames: rate * ms, ms };
}

/** The placements within TIE of the fastest, fewer engines first, then smaller batches. */
function ranked(measured: FitMeasurement[]): FitMeasurement[] {
  const best = Math.max(...measured.map((m) => m.framesPerSecond));
  return measured
    .filter((m) => m.framesPerSecond >= best * (1 - TIE))
    .sort((a, b) => a.engines - b.engines || a.maxBatch - b.maxBatch);
}

function choose(measured: FitMeasurement[], fallback: Placement): Placement {
  if (measured.length === 0) return fallback;
  const { engines, intraOpThreads, maxBatch } = ranked(measured)[0];
  return { engines, intraOpThreads, maxBatch };
}
