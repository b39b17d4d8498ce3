import type { InferenceSession } from 'onnxruntime-node';
import type { ExecutionProviderName } from '@vision/config';
import { batchLadder, slotsFor } from './batch-sizes';
import { PAD_VALUE } from './frame-arena';
import { fitHost, type FitReport, type Placement, type Split } from './host-fit';
import { letterboxGeometry } from './letterbox';
import type { ModelPlan } from './model-plan';
import type { YoloModelOptions } from './model-options';
import { SessionThread, type RunFrame } from './session-thread-client';
import type { SessionShape } from './session-thread-protocol';
import type { TaskOptions } from './tasks/model-task';

/** The session threads a model runs on, and how the host fit placed them. */
export interface Engines {
  threads: SessionThread[];
  /** One frame's session across every core the engines use, spinning (SPIN_SINGLE_FRAMES). */
  wide: SessionThread | undefined;
  placement: Placement;
  report: FitReport | undefined;
}

/** Every session thread of a model: the engines and the wide session. */
export function allThreads(engines: Engines): SessionThread[] {
  return engines.wide ? [...engines.threads, engines.wide] : engines.threads;
}

/**
 * Starts a planned model's session threads on `eps`: as many engines as settings give, or, on a
 * CPU with the host fit on, as many as the fit chooses; then the wide session where lone frames
 * spin. Rejects with ONNX Runtime's message if a session cannot start (every thread closed).
 */
export async function startEngines(
  plan: ModelPlan,
  o: YoloModelOptions,
  eps: InferenceSession.ExecutionProviderConfig[],
  on: ExecutionProviderName,
): Promise<Engines> {
  const shape = plan.shape;
  const gpu = on !== 'cpu';
  const fit = gpu ? undefined : o.fit;
  const batchSizes = shape.batch !== 'dynamic' ? [] : [...(o.batchSizes ?? (gpu ? batchLadder(o.maxBatch) : []))];
  // Room for the largest request (maxBatch frames, or the largest the fit tries), padded runs included.
  const arenaFrames = slotsFor(Math.max(o.maxBatch, ...(fit?.batches ?? [])), shape.batch, batchSizes);
  const post: TaskOptions = {
    confThreshold: o.confThreshold,
    iouThreshold: o.iouThreshold,
    maxDetections: o.maxDetections,
    lowThreshold: o.lowThreshold,
    classifyTopK: o.classifyTopK,
  };
  const engine = (name: string, threads: number, frames: number, spin = o.allowSpinning) =>
    SessionThread.start({
      ...shape,
      model: new Uint8Array(plan.graph).buffer,
      input: plan.input,
      task: plan.task,
      output: plan.output,
      arenaFrames: frames,
      session: sessionOptions(eps, threads, o.interOpThreads, spin),
      post,
      batchSizes,
      nice: o.nice,
      name,
    });
  const startSplit = async (split: Split) => {
    const made = await Promise.allSettled(
      Array.from({ length: split.engines }, (_, i) =>
        engine(`e${i}of${split.engines}`, split.intraOpThreads, arenaFrames),
      ),
    );
    const threads = made.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []));
    const failed = made.find((m) => m.status === 'rejected');
    if (failed) {
      await Promise.all(threads.map((t) => t.close()));
      throw failed.reason;
    }
    return threads;
  };
  const current: Placement = {
    engines: Math.max(1, o.engines),
    intraOpThreads: o.intraOpThreads,
    maxBatch: o.maxBatch,
  };
  const fitted = fit
    ? await fitHost(fit, current, shape.batch, greyFrame(shape), startSplit, o.logger)
    : { placement: current, threads: await startSplit(current), report: undefined };
  const { placement, threads } = fitted;
  if (fit) for (const t of threads) t.resizeArena(slotsFor(placement.maxBatch, shape.batch, batchSizes));
  let wide: SessionThread | undefined;
  if (o.spinSingleFrames && !o.allowSpinning && shape.batch === 'dynamic') {
    try {
      wide = await engine('wide', placement.engines * placement.intraOpThreads, 1, true);
    } catch (err) {
      await Promise.all(threads.map((t) => t.close()));
      throw err;
    }
  }
  return { ...fitted, wide };
}

function sessionOptions(
  eps: InferenceSession.ExecutionProviderConfig[],
  intraOpThreads: number,
  interOpThreads: number,
  spin: boolean,
): InferenceSession.SessionOptions {
  return {
    executionProviders: eps,
    graphOptimizationLevel: 'all',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: interOpThreads,
    // ORT's pool threads spin after each run by default, taking the cores that decode the next frames.
    ...(spin ? {} : { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }),
  };
}

/** A frame of padding grey filling the input: what the host fit runs (a network's cost is not the pixels'). */
function greyFrame(shape: SessionShape): RunFrame {
  const { inputWidth: w, inputHeight: h } = shape;
  return { pixels: new Uint8Array(w * h * 3).fill(PAD_VALUE), geometry: letterboxGeometry(w, h, w, h) };
}
