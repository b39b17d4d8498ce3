import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INFERENCE, loadConfig } from '@vision/config';
import { benchModelName, imageFixturesDir, modelsDir } from '@vision/testing';
import { fitCandidates, modelOptionsFrom, silentLogger, YoloModel, type YoloModelOptions } from '../src';

const defaults = loadConfig({});
const NONE = { engines: false, intraOpThreads: false, maxBatch: false };
const models: YoloModel[] = [];

/** The YOLOv8n-sized model (a real network's cost, so the fit's runs take what a site's would). */
async function loadFitted(env: Record<string, string>, fit: Partial<NonNullable<YoloModelOptions['fit']>> = {}) {
  const base = modelOptionsFrom(loadConfig(env), {
    modelPath: join(modelsDir(), `${benchModelName(640)}.onnx`),
    logger: silentLogger,
  });
  const t0 = performance.now();
  const model = await YoloModel.load({ ...base, fit: { ...base.fit!, cores: 2, ...fit } });
  models.push(model);
  return { model, loadMs: performance.now() - t0 };
}

afterAll(async () => {
  await Promise.all(models.map((m) => m.dispose()));
});

describe('host fit', () => {
  it('splits the cores into equal engines and keeps what settings pinned', () => {
    const current = { engines: 1, intraOpThreads: 8, maxBatch: 2 };
    const opts = { pinned: NONE, batches: [1, 2, 4], maxEngines: 4 };
    const splits = (cores: number, o = opts, c = current) =>
      fitCandidates({ ...o, cores }, c, 'dynamic').splits.map((s) => `${s.engines}×${s.intraOpThreads}`);
    expect(splits(2)).toEqual(['1×2', '2×1']);
    expect(splits(6)).toEqual(['1×6', '2×3', '3×2']);
    expect(splits(16)).toEqual(['1×16', '2×8', '4×4']);
    expect(splits(1)).toEqual(['1×1']);
    expect(splits(16, { ...opts, pinned: { ...NONE, engines: true } }, { ...current, engines: 2 })).toEqual(['2×8']);
    expect(
      splits(16, { ...opts, pinned: { ...NONE, intraOpThreads: true } }, { ...current, intraOpThreads: 4 }),
    ).toEqual(['4×4']);
    expect(fitCandidates({ ...opts, cores: 2 }, current, 'dynamic').batches).toEqual([1, 2, 4]);
    expect(
      fitCandidates({ ...opts, cores: 2, pinned: { ...NONE, maxBatch: true } }, current, 'dynamic').batches,
    ).toEqual([2]);
    // A static-batch export runs its own batch, whatever the worker gathers.
    expect(fitCandidates({ ...opts, cores: 2 }, current, 4).batches).toEqual([2]);
  });

  it('runs at load on a CPU within its budget, measures every split, and serves on the fastest', async () => {
    const { model, loadMs } = await loadFitted({});
    const report = model.fitReport!;
    expect(INFERENCE.hostFitBudgetMs).toBeLessThanOrEqual(5000);
    // Bounded: the fit's own clock, and the whole load (graph, fit, the wide session) around it.
    expect(report.ms).toBeLessThanOrEqual(5000);
    expect(loadMs).toBeLessThan(report.ms + 2000);
    expect(report.measured.map((m) => `${m.engines}×${m.intraOpThreads}`)).toEqual(
      expect.arrayContaining(['1×2', '2×1']),
    );
    // Its choice is the fastest it measured, or within 3 % of it with fewer engines or a smaller batch.
    const best = Math.max(...report.measured.map((m) => m.framesPerSecond));
    const chosen = report.measured.find(
      (m) => m.engines === report.chosen.engines && m.maxBatch === report.chosen.maxBatch,
    )!;
    expect(chosen.framesPerSecond).toBeGreaterThanOrEqual(best * 0.97);
    expect(model.placement).toEqual(report.chosen);
    expect(model.concurrency).toBe(report.chosen.engines);
    const photo = readFileSync(join(imageFixturesDir(), 'astronaut-1280x720.jpg'));
    const outcomes = await model.detect([photo, photo, photo]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
  });

  it('is skipped when settings pin engines, threads and batch size, and those run', async () => {
    const env = { ENGINES: '2', INTRA_OP_THREADS: '1', MAX_BATCH: '1' };
    expect(modelOptionsFrom(loadConfig(env), { modelPath: 'x', logger: silentLogger }).fit?.pinned).toEqual({
      engines: true,
      intraOpThreads: true,
      maxBatch: true,
    });
    const { model } = await loadFitted(env);
    expect(model.fitReport).toMatchObject({ stopped: 'pinned', measured: [] });
    expect(model.fitReport!.ms).toBeLessThan(1000);
    expect(model.placement).toEqual({ engines: 2, intraOpThreads: 1, maxBatch: 1 });
    expect(model.concurrency).toBe(2);
  });

  it('is off on GPU providers and with HOST_FIT=false', () => {
    expect(loadConfig({ EXECUTION_PROVIDER: 'cuda' }).batching.hostFit.enabled).toBe(false);
    expect(modelOptionsFrom(loadConfig({ HOST_FIT: 'false' }), { modelPath: 'x', logger: silentLogger }).fit).toBe(
      undefined,
    );
    expect(defaults.batching.hostFit).toEqual({ enabled: true, pinned: NONE });
  });
});
