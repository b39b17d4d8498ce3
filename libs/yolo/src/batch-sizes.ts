/**
 * The batch sizes a dynamic-batch model runs at on a GPU. ONNX Runtime's CUDA provider re-selects
 * convolution kernels whenever a session's input shape differs from its previous run's, which costs
 * 0.5–1 s a time (microsoft/onnxruntime#23006; seen on an H200), so a
 * worker whose batches follow the load runs each size on its own session and pads a batch up to
 * the next size. Powers of two keep the sessions few (six up to 32) and the padding under half.
 */
export function batchLadder(maxBatch: number): number[] {
  const sizes: number[] = [];
  for (let s = 1; s < maxBatch; s *= 2) sizes.push(s);
  return [...sizes, maxBatch];
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

/** Input slots a request of `n` frames needs: its runs back to back, each padded to its run size. */
export function slotsFor(n: number, batch: number | 'dynamic', sizes: readonly number[]): number {
  let need = 0;
  for (let first = 0; first < n;) {
    const size = runSize(n - first, batch, sizes);
    need = Math.max(need, first + size);
    first += Math.min(size, n - first);
  }
  return need;
}
