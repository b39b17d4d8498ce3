import { readFile } from 'node:fs/promises';
import type { InferenceSession } from 'onnxruntime-node';
import type { ExecutionProviderName } from '@vision/config';
import { VisionError } from '@vision/wire';
import { allThreads, startEngines, type Engines } from './engines';
import { planModel } from './model-plan';
import type { YoloModelOptions } from './model-options';
import type { FrameDetections } from './postprocess';
import type { FitReport, Placement } from './host-fit';
import { fitFrame, type FrameFit, type LetterboxedFrame } from './preprocess';
import { providerConfig } from './providers';
import type { SessionRunResult, SessionShape } from './session-thread-protocol';
import { modelTask } from './tasks/registry';

/** What the model file told us, plus the provider and the graph that actually run it. */
export interface ModelDescription extends SessionShape {
  path: string;
  /** The export's output layout (`v8`, `v5`, `end2end`, `classify`, …). */
  layout: string;
  /** Its task (tasks/registry.ts); `detect` for exports that name none. */
  task: string;
  stride: number | undefined;
  provider: ExecutionProviderName;
  servingGraph: boolean;
}

export type FrameOutcome<T> = { ok: true; value: T } | { ok: false; error: VisionError };

/** A frame decoded and letterboxed, ready for `infer`. */
export interface DecodedFrame extends LetterboxedFrame {
  /** Time spent decoding and letterboxing this frame. */
  decodeMs: number;
}

export interface InferenceResult extends SessionRunResult {
  /** Whether the run went to the wide, spinning session (one frame that found every engine idle). */
  spun: boolean;
}

/**
 * Owns the ONNX Runtime sessions of a YOLO detector: `engines` session threads (like Triton's
 * instance groups), so several batches can run at once where the hardware gains from it.
 * `decode` (sharp, on libuv's pool) and `infer` (a session thread) are separate so a worker can
 * decode frames as they arrive.
 */
export class YoloModel {
  private next = 0;
  /** When the model's last run ended, on any of its threads. */
  private lastRunEnded = -Infinity;

  private constructor(
    readonly description: ModelDescription,
    private readonly engines: Engines,
    /** Where frames land in the input: the task's letterbox or crop. */
    private readonly fit: FrameFit,
    private readonly opts: Pick<
      YoloModelOptions,
      'maxInputPixels' | 'costlyMaxPixels' | 'decodeTimeoutS' | 'spinAfterIdleMs'
    >,
  ) {}

  /** How many batches may run at once. */
  get concurrency(): number {
    return this.engines.threads.length;
  }

  /** Engines, their ORT threads and the most frames a caller should hand `infer` at once. */
  get placement(): Placement {
    return this.engines.placement;
  }

  /** What the host fit measured and chose (undefined where it did not run: a GPU, HOST_FIT=false). */
  get fitReport(): FitReport | undefined {
    return this.engines.report;
  }

  static async load(o: YoloModelOptions): Promise<YoloModel> {
    let bytes: Buffer;
    try {
      bytes = await readFile(o.modelPath);
    } catch (err) {
      throw new VisionError('E_MODEL_LOAD', `cannot read model ${o.modelPath}: ${(err as Error).message}`);
    }
    const plan = planModel(bytes, o.modelPath, {
      names: o.names,
      fallbackImageSize: o.fallbackImageSize,
      servingGraph: o.servingGraph,
      topK: o.topK,
      candidateThreshold: Math.min(o.confThreshold, o.lowThreshold),
      classifyTopK: o.classifyTopK,
    });
    const shape = plan.shape;
    const start = (eps: InferenceSession.ExecutionProviderConfig[], on: ExecutionProviderName) =>
      startEngines(plan, o, eps, on);
    let engines: Engines;
    let actual: ExecutionProviderName = o.executionProvider;
    try {
      engines = await start(providerConfig(o.executionProvider, o.deviceId), o.executionProvider);
    } catch (err) {
      const why = (err as Error).message.split('\n')[0];
      if (o.executionProvider === 'cpu')
        throw new VisionError('E_MODEL_LOAD', `ONNX Runtime rejected the model: ${why}`);
      if (!o.allowProviderFallback) {
        throw new VisionError(
          'E_PROVIDER_UNAVAILABLE',
          `execution provider '${o.executionProvider}' cannot load (${why}); ` +
            'install its libraries or allow the CPU fallback',
        );
      }
      o.logger.warn(
        { requested: o.executionProvider, error: why },
        'execution provider unavailable; falling back to cpu',
      );
      engines = await start(['cpu'], 'cpu');
      actual = 'cpu';
    }
    const description: ModelDescription = {
      ...shape,
      inputName: plan.exportNames.input,
      outputName: plan.exportNames.output,
      path: o.modelPath,
      layout: plan.layout,
      task: plan.task,
      stride: plan.stride,
      provider: actual,
      servingGraph: plan.serving.used,
    };
    o.logger.info(
      {
        model: o.modelPath,
        provider: actual,
        input: plan.declared.input,
        output: plan.declared.output,
        task: plan.task,
        layout: plan.layout,
        classes: shape.names.length,
        imgsz: [shape.inputHeight, shape.inputWidth],
        graph: plan.serving.used ? 'serving (uint8 in, top-K out)' : `the export as it is (${plan.serving.reason})`,
        placement: engines.placement,
        warmedSessions: allThreads(engines).reduce((n, t) => n + t.warmedSessions, 0),
      },
      'model loaded',
    );
    return new YoloModel(description, engines, modelTask(plan.task).fit, o);
  }

  /** Decodes one frame and places it as the task does (sharp, off the event loop). Rejects with a VisionError. */
  async decode(image: Uint8Array): Promise<DecodedFrame> {
    const started = performance.now();
    const { inputWidth, inputHeight } = this.description;
    try {
      const f = await fitFrame(
        image,
        {
          inputWidth,
          inputHeight,
          maxInputPixels: this.opts.maxInputPixels,
          costlyMaxPixels: this.opts.costlyMaxPixels,
          timeoutS: this.opts.decodeTimeoutS,
        },
        this.fit,
      );
      return { ...f, decodeMs: performance.now() - started };
    } catch (err) {
      throw err instanceof VisionError ? err : new VisionError('E_IMAGE_DECODE', String(err));
    }
  }

  /**
   * Runs decoded frames on a free session thread (one `session.run` for dynamic models, padded
   * groups for static-batch ones) and postprocesses them there. Callers keep at most `concurrency`
   * runs open; beyond that runs wait for a thread.
   */
  async infer(frames: readonly DecodedFrame[]): Promise<InferenceResult> {
    const total: InferenceResult = {
      frames: [],
      runBatchSize: 0,
      spun: false,
      inferenceMs: 0,
      postprocessMs: 0,
      inputMs: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    const { threads, wide, placement } = this.engines;
    // More than maxBatch frames (a CLI call) run as several requests, one after another.
    for (let first = 0; first < frames.length; first += placement.maxBatch) {
      const chunk = frames.slice(first, first + placement.maxBatch);
      const alone =
        wide !== undefined &&
        chunk.length === 1 &&
        !allThreads(this.engines).some((t) => t.busy) &&
        performance.now() - this.lastRunEnded >= this.opts.spinAfterIdleMs;
      const thread = alone ? wide : (threads.find((t) => !t.busy) ?? threads[this.next++ % threads.length]);
      let r: SessionRunResult;
      try {
        r = await thread.run(chunk);
      } finally {
        this.lastRunEnded = performance.now();
      }
      total.frames.push(...r.frames);
      total.runBatchSize ||= r.runBatchSize;
      total.spun ||= alone;
      for (const k of ['inferenceMs', 'postprocessMs', 'inputMs', 'bytesIn', 'bytesOut'] as const) total[k] += r[k];
    }
    return total;
  }

  /** `decode` + `infer` for callers that do not pipeline (CLI, tests); bad frames fail alone. */
  async detect(images: readonly Uint8Array[]): Promise<FrameOutcome<FrameDetections>[]> {
    const decoded = await Promise.all(
      images.map((img) =>
        this.decode(img).then(
          (value) => ({ ok: true as const, value }),
          (error: VisionError) => ({ ok: false as const, error }),
        ),
      ),
    );
    const result = await this.infer(decoded.flatMap((d) => (d.ok ? [d.value] : [])));
    let k = 0;
    return decoded.map((d) => (d.ok ? { ok: true as const, value: result.frames[k++] } : d));
  }

  async dispose(): Promise<void> {
    await Promise.all(allThreads(this.engines).map((t) => t.close()));
  }
}
