/**
 * The batch sizes a dynamic-batch model runs at. GPU providers pick kernels per input shape (ORT's
 * CUDA provider runs cuDNN's exhaustive algorithm search for every new shape, which takes far longer
 * than the batch itself), so a worker whose batches follow the load must not meet a new shape while
 * serving: its runs are padded up to a short ladder of sizes, each run once while loading. The
 * ladder's steps grow by at most 1.5×, so padding wastes at most a third of a run.
 */
const LADDER = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256];

/** The ladder up to `maxBatch`, which it always ends with. */
export function batchLadder(maxBatch: number): number[] {
  return [...LADDER.filter((s) => s < maxBatch), maxBatch];
}

/**
 * Frames per `session.run` for `n` frames still to run: a static model's batch; else the smallest
 * size ≥ n (the largest one when none is), or exactly n when no sizes are set.
 */
export function runSize(n: number, batch: number | 'dynamic', sizes: readonly number[]): number {
  if (typeof batch === 'number') return batch;
  if (sizes.length === 0) return n;
  return sizes.find((s) => s >= n) ?? sizes[sizes.length - 1];
}
