/** RGB bytes (HWC) to /255 float32 planes (CHW) at `offset` of `dst`: the model's input layout. */
export function hwcToChw(src: Uint8Array, dst: Float32Array, offset: number, plane: number): void {
  const inv = 1 / 255;
  const r = offset;
  const g = offset + plane;
  const b = offset + 2 * plane;
  for (let p = 0, s = 0; p < plane; p++, s += 3) {
    dst[r + p] = src[s] * inv;
    dst[g + p] = src[s + 1] * inv;
    dst[b + p] = src[s + 2] * inv;
  }
}
