import { munkres } from 'munkres';

/** A cost that no pair at or above the gate may be matched with. */
const FORBIDDEN = 1e6;

/**
 * Minimum-cost matching of `rows` to `cols` (Hungarian algorithm, the `munkres` package: typed,
 * dependency-free, rectangular matrices), keeping only pairs cheaper than `gate`.
 * `cost(r, c)` returns Infinity for pairs that may never match (another class).
 */
export function assign(
  rows: number,
  cols: number,
  cost: (r: number, c: number) => number,
  gate: number,
): { pairs: [number, number][]; freeRows: number[]; freeCols: number[] } {
  const pairs: [number, number][] = [];
  if (rows && cols) {
    const m: number[][] = [];
    let any = false;
    for (let r = 0; r < rows; r++) {
      const row = new Array<number>(cols);
      for (let c = 0; c < cols; c++) {
        const v = cost(r, c);
        row[c] = v < gate ? v : FORBIDDEN;
        any ||= v < gate;
      }
      m.push(row);
    }
    if (any) for (const [r, c] of munkres(m)) if (m[r][c] < gate) pairs.push([r, c]);
  }
  const usedR = new Set(pairs.map((p) => p[0]));
  const usedC = new Set(pairs.map((p) => p[1]));
  return {
    pairs,
    freeRows: Array.from({ length: rows }, (_, i) => i).filter((i) => !usedR.has(i)),
    freeCols: Array.from({ length: cols }, (_, i) => i).filter((i) => !usedC.has(i)),
  };
}
