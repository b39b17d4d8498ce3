/**
 * Reuses batch input buffers. A 640² batch of 8 is 39 MB; allocating (and zero-filling) one per
 * batch would churn external memory at every batch. Bounded: at most `maxFree` buffers are kept.
 */
export class TensorPool {
  private readonly free: Float32Array[] = [];

  constructor(private readonly maxFree = 3) {}

  acquire(length: number): Float32Array {
    const i = this.free.findIndex((b) => b.length >= length);
    if (i >= 0) return this.free.splice(i, 1)[0].subarray(0, length);
    return new Float32Array(length);
  }

  release(buf: Float32Array): void {
    const whole = new Float32Array(buf.buffer);
    if (this.free.length < this.maxFree) this.free.push(whole);
  }
}
