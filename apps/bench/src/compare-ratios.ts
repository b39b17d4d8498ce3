import type { BulkRow, TwoModelRow } from './compare-scenarios';
import type { CompareRow } from './compare-report';
import type { RawOrtRow } from './raw-ort';

/** 7. Ratios to the naive server, and between the scenarios, all from this run. */
export function compareRatios(
  rows: CompareRow[],
  twoModels: TwoModelRow[],
  bulkRows: BulkRow[],
  raw: RawOrtRow[],
  cams: number[],
  o: { lowFps: number; fps: number },
): Record<string, number> {
  const maxCams = Math.max(...cams);
  const find = (system: string, cameras: number) => rows.find((r) => r.system === system && r.cameras === cameras);
  const naiveLow = find('naive (low rate)', 1);
  const ratios: Record<string, number> = {};
  for (const sys of ['redis', 'embedded']) {
    const low = find(`${sys} (low rate)`, 1);
    if (low && naiveLow) ratios[`${sys}: p50 ÷ naive p50, 1 camera at ${o.lowFps} fps`] = low.p50 / naiveLow.p50;
    for (const c of cams) {
      const mine = find(sys, c);
      const base = find('naive', c);
      if (!mine || !base) continue;
      ratios[`${sys}: results/s ÷ naive, ${c} cameras × ${o.fps} fps`] = mine.throughput / base.throughput;
      ratios[`${sys}: p95 ÷ naive p95, ${c} cameras`] = mine.p95 / base.p95;
      if (Number.isFinite(mine.gpuUtil) && Number.isFinite(base.gpuUtil))
        ratios[`${sys}: GPU utilisation ÷ naive, ${c} cameras`] = mine.gpuUtil! / base.gpuUtil!;
    }
    const sat = find(sys, maxCams);
    if (sat)
      ratios[`${sys}: last-third p95 ÷ first-third p95, ${maxCams} cameras`] = sat.p95LastThird / sat.p95FirstThird;
    // The engine's ceiling: raw session.run at its best batch, in one session, and over the splits of the cores.
    const best = (rows: RawOrtRow[]) => Math.max(...rows.map((r) => r.inferFps));
    const single = raw.filter((r) => r.engines === 1);
    if (sat && single.length)
      ratios[`${sys}: results/s ÷ raw session.run, one session at its best batch, ${maxCams} cameras`] =
        sat.throughput / best(single);
    if (sat && raw.length > single.length)
      ratios[`${sys}: results/s ÷ raw session.run, best split of the cores and batch, ${maxCams} cameras`] =
        sat.throughput / best(raw);
  }
  const naiveSat = find('naive', maxCams);
  if (naiveSat)
    ratios[`naive: last-third p95 ÷ first-third p95, ${maxCams} cameras`] =
      naiveSat.p95LastThird / naiveSat.p95FirstThird;
  const wsW = find('redis, ws-binary, window 2', maxCams);
  const httpW = find('redis, http-base64, window 2', maxCams);
  if (wsW && httpW) {
    ratios[`ws-binary ÷ http-base64 results/s, ${maxCams} cameras, window 2`] = wsW.throughput / httpW.throughput;
    ratios['ws-binary ÷ http-base64 wire bytes per frame, both ways'] =
      (wsW.bytesUpPerFrame + wsW.bytesDownPerFrame) / (httpW.bytesUpPerFrame + httpW.bytesDownPerFrame);
    ratios['ws-binary upstream bytes per frame ÷ JPEG size'] = wsW.bytesUpPerFrame / wsW.imageBytes;
  }

  if (twoModels.length === 2)
    ratios[`two models ÷ one model results/s, ${maxCams} cameras × ${o.fps} fps`] =
      twoModels[1].resultsPerS / twoModels[0].resultsPerS;
  if (bulkRows.length === 3) {
    for (const [i, policy] of [
      [1, 'bulk yields'],
      [2, 'BULK_YIELD=false'],
    ] as const) {
      ratios[`bulk job (${policy}): real-time p95 with ÷ without the job (target ≤ 1.1)`] =
        bulkRows[i].p95 / bulkRows[0].p95;
      ratios[`bulk job (${policy}): worker busy fraction with the job (target ≥ 0.95)`] = bulkRows[i].busy;
    }
  }
  return ratios;
}
