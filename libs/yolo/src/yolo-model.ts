import { readFile } from 'node:fs/promises';
import type { InferenceSession } from 'onnxruntime-node';
import { VisionError, type Detection } from '@vision/wire';
import { batchLadder } from './batch-sizes';
import { InferenceThread } from './inference-thread';
import type { EngineShape } from './engine-protocol';
import { detectOutputLayout } from './layout';
import { silentLogger, type Logger } from './logger';
import { completeNames, parseUltralyticsMetadata } from './metadata';
import { readOnnxModelInfo, type Dim } from './model-info';
import { DEFAULT_POSTPROCESS, type PostprocessOptions } from './postprocess';
import { letterbox, type LetterboxedFrame } from './preprocess';
import type { ExecutionProviderName } from '@vision/config';
import { providerConfig } from './providers';

export interface YoloModelOptions extends Partial<PostprocessOptions> {
  modelPath: string;
  /** Class names that override the file's metadata (e.g. from a names file). */
  names?: readonly string[];
  /** @defaultValue 'cpu' */
  executionProvider?: ExecutionProviderName;
  /** Run on CPU when the requested provider cannot load, instead of failing start-up. @defaultValue false */
  allowProviderFallback?: boolean;
  /** @defaultValue 0 */
  deviceId?: number;
  /** ONNX Runtime intra-op threads; 0 lets ORT choose. @defaultValue 0 */
  intraOpThreads?: number;
  /** @defaultValue 0 */
  interOpThreads?: number;
  /** Input size for exports whose height/width axes are dynamic and carry no `imgsz` metadata. @defaultValue 640 */
  fallbackImageSize?: number;
  /** @defaultValue 40_000_000 */
  maxInputPixels?: number;
  /** Largest progressive/interlaced or 16-bit image, in pixels. @defaultValue 4_000_000 */
  costlyMaxPixels?: number;
  /** Decode budget per frame, whole seconds. @defaultValue 2 */
  decodeTimeoutS?: number;
  /** Sessions (each in its own thread) that may run batches at once. @defaultValue 1 */
  engines?: number;
  /** Most frames the caller hands `infer` at once: the top of the default GPU batch ladder. @defaultValue 1 */
  maxBatch?: number;
  /**
   * Sizes a dynamic-batch model runs at: a run is padded up to the smallest one that holds it, each
   * size has its own session (the model's weights and activations once per size), and on GPU
   * providers each is run once while loading (see `batch-sizes.ts`). Empty: one session, every run
   * at its own size. Undefined: on GPU providers `batchLadder(maxBatch)`; on CPU empty, since there
   * a padded slot costs as much as a real frame and a new shape costs nothing extra.
   */
  batchSizes?: readonly number[];
  /**
   * Linux nice value of the inference threads (the engine thread and ONNX Runtime's pool): above 0,
   * the event loop and decoding go first when the cores are contended, and inference takes what is
   * left, which is all of it when nothing else runs. @defaultValue 0
   */
  nice?: number;
  /** Let ONNX Runtime's thread pool spin between runs (ORT's default). @defaultValue true */
  allowSpinning?: boolean;
  /**
   * With `allowSpinning: false`, still let runs of one frame spin, on a session of their own (the
   * model's weights once more): one frame at a time is what low load gives, when the cores are
   * free and a spinning pool answers sooner; batches, which mean the decoders are busy, keep
   * sleeping threads. @defaultValue false
   */
  spinSingleFrames?: boolean;
  logger?: Logger;
}

/** What the model file told us, plus the provider that actually runs it. */
export interface ModelDescription extends EngineShape {
  path: string;
  task: string | undefined;
  stride: number | undefined;
  provider: ExecutionProviderName;
}

export type FrameOutcome<T> = { ok: true; value: T } | { ok: false; error: VisionError };

/** A frame decoded and letterboxed, ready for `infer`. */
export interface DecodedFrame extends LetterboxedFrame {
  /** Time spent decoding and letterboxing this frame. */
  decodeMs: number;
}

export interface InferenceResult {
  /** Per input frame, in input order. */
  detections: Detection[][];
  /** Number of images each `session.run` carried (the first run's, padding included). */
  runBatchSize: number;
  inferenceMs: number;
  postprocessMs: number;
}

/**
 * Owns the ONNX Runtime sessions for a YOLO detector: `engines` of them, each in its own thread
 * (like Triton's instance groups), so several batches can run at once where the hardware gains
 * from it. Everything about the model comes from the file. `decode` (sharp, on libuv's pool) and
 * `infer` (an engine thread) are separate so a worker can decode frames as they arrive.
 */
export class YoloModel {
  private next = 0;

  private constructor(
    readonly description: ModelDescription,
    private readonly threads: InferenceThread[],
    private readonly opts: { maxInputPixels: number; costlyMaxPixels: number; decodeTimeoutS: number },
  ) {}

  /** How many batches may run at once. */
  get concurrency(): number {
    return this.threads.length;
  }

  static async load(options: YoloModelOptions): Promise<YoloModel> {
    const log = options.logger ?? silentLogger;
    const provider = options.executionProvider ?? 'cpu';
    let bytes: Buffer;
    try {
      bytes = await readFile(options.modelPath);
    } catch (err) {
      throw new VisionError('E_MODEL_LOAD', `cannot read model ${options.modelPath}: ${(err as Error).message}`);
    }
    const info = (() => {
      try {
        return readOnnxModelInfo(bytes);
      } catch (err) {
        throw new VisionError('E_MODEL_LOAD', `${options.modelPath} is not an ONNX model: ${(err as Error).message}`);
      }
    })();
    const meta = parseUltralyticsMetadata(info.metadata);
    if (meta.task && meta.task !== 'detect') {
      throw new VisionError('E_MODEL_LOAD', `model task is '${meta.task}'; only 'detect' exports are supported`);
    }
    const input = info.inputs[0];
    const output = info.outputs[0];
    if (!input || !output) throw new VisionError('E_MODEL_LOAD', 'the model needs one image input and an output');
    if (input.elemType !== 'FLOAT') {
      throw new VisionError('E_MODEL_LOAD', `input ${input.name} is ${input.elemType}; export with float32 (half=False)`);
    }
    if (input.shape.length !== 4 || (typeof input.shape[1] === 'number' && input.shape[1] !== 3)) {
      throw new VisionError('E_MODEL_LOAD', `input ${input.name} has shape [${input.shape.join(', ')}], not [B, 3, H, W]`);
    }
    const nameOverride = options.names ? [...options.names] : undefined;
    const declaredNames = nameOverride ?? meta.names;
    const layout = detectOutputLayout(output.shape, declaredNames?.length);
    const fallback = options.fallbackImageSize ?? 640;
    const inputHeight = dimOr(input.shape[2], meta.imgsz?.[0] ?? fallback);
    const inputWidth = dimOr(input.shape[3], meta.imgsz?.[1] ?? fallback);
    const classCount = layout.classCount ?? declaredNames?.length ?? 0;
    const names = completeNames(declaredNames, classCount);

    const deviceId = options.deviceId ?? 0;
    const sessionOptions = (eps: InferenceSession.ExecutionProviderConfig[], spin = options.allowSpinning !== false): InferenceSession.SessionOptions => ({
      executionProviders: eps,
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.intraOpThreads ?? 0,
      interOpNumThreads: options.interOpThreads ?? 0,
      // ORT's pool threads spin after each run by default, taking the cores that decode the next
      // frames. A serving worker always has decoding in flight: let them sleep instead.
      ...(spin ? {} : { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }),
    });
    const post: PostprocessOptions = {
      ...DEFAULT_POSTPROCESS,
      ...definedOnly({ confThreshold: options.confThreshold, iouThreshold: options.iouThreshold, maxDetections: options.maxDetections }),
    };
    const engines = Math.max(1, options.engines ?? 1);
    const shape: EngineShape = {
      inputName: input.name,
      outputName: output.name,
      inputWidth,
      inputHeight,
      batch: typeof input.shape[0] === 'number' ? input.shape[0] : 'dynamic',
      layout: layout.kind,
      names,
    };
    const start = async (eps: InferenceSession.ExecutionProviderConfig[], on: ExecutionProviderName) => {
      const gpu = on !== 'cpu';
      const session = sessionOptions(eps);
      const singleFrameSession = options.spinSingleFrames && options.allowSpinning === false && shape.batch === 'dynamic' ? sessionOptions(eps, true) : undefined;
      const batchSizes = shape.batch !== 'dynamic' ? [] : [...(options.batchSizes ?? (gpu ? batchLadder(options.maxBatch ?? 1) : []))];
      const threads: InferenceThread[] = [];
      try {
        for (let i = 0; i < engines; i++) {
          threads.push(
            await InferenceThread.start({ ...shape, model: new Uint8Array(bytes).buffer, session, singleFrameSession, post, batchSizes, warmup: gpu, nice: options.nice ?? 0 }),
          );
        }
      } catch (err) {
        await Promise.all(threads.map((t) => t.close()));
        throw err;
      }
      return threads;
    };
    let threads: InferenceThread[];
    let actual: ExecutionProviderName = provider;
    try {
      threads = await start(providerConfig(provider, deviceId), provider);
    } catch (err) {
      const why = (err as Error).message.split('\n')[0];
      if (provider === 'cpu') throw new VisionError('E_MODEL_LOAD', `ONNX Runtime rejected the model: ${why}`);
      if (!options.allowProviderFallback) {
        throw new VisionError(
          'E_PROVIDER_UNAVAILABLE',
          `execution provider '${provider}' cannot load (${why}); install its libraries or allow the CPU fallback`,
        );
      }
      log.warn({ requested: provider, error: why }, 'execution provider unavailable; falling back to cpu');
      threads = await start(['cpu'], 'cpu');
      actual = 'cpu';
    }

    const description: ModelDescription = {
      ...shape,
      path: options.modelPath,
      task: meta.task,
      stride: meta.stride,
      provider: actual,
    };
    log.info(
      {
        model: options.modelPath,
        provider: actual,
        input: `${input.name} [${input.shape.join(', ')}]`,
        output: `${output.name} [${output.shape.join(', ')}]`,
        layout: layout.kind,
        classes: names.length,
        imgsz: [inputHeight, inputWidth],
      },
      'model loaded',
    );
    return new YoloModel(description, threads, {
      maxInputPixels: options.maxInputPixels ?? 40_000_000,
      costlyMaxPixels: options.costlyMaxPixels ?? 4_000_000,
      decodeTimeoutS: options.decodeTimeoutS ?? 2,
    });
  }

  /** Decodes and letterboxes one frame (sharp, off the event loop). Rejects with a VisionError. */
  async decode(image: Uint8Array): Promise<DecodedFrame> {
    const started = performance.now();
    const { inputWidth, inputHeight } = this.description;
    try {
      const f = await letterbox(image, {
        inputWidth,
        inputHeight,
        maxInputPixels: this.opts.maxInputPixels,
        costlyMaxPixels: this.opts.costlyMaxPixels,
        timeoutS: this.opts.decodeTimeoutS,
      });
      return { ...f, decodeMs: performance.now() - started };
    } catch (err) {
      throw asVisionError(err);
    }
  }

  /**
   * Runs decoded frames on a free engine (one `session.run` for dynamic models, padded groups for
   * static-batch ones) and postprocesses them there. Callers keep at most `concurrency` runs open;
   * beyond that runs queue on the least recently used engine.
   */
  async infer(frames: readonly DecodedFrame[]): Promise<InferenceResult> {
    const free = this.threads.find((t) => !t.busy) ?? this.threads[this.next++ % this.threads.length];
    if (frames.length === 0) return { detections: [], runBatchSize: 0, inferenceMs: 0, postprocessMs: 0 };
    return free.run(frames.map((f) => ({ pixels: f.pixels, geometry: f.geometry })));
  }

  /** `decode` + `infer` for callers that do not pipeline (CLI, tests); bad frames fail alone. */
  async detect(images: readonly Uint8Array[]): Promise<FrameOutcome<Detection[]>[]> {
    const decoded = await Promise.all(
      images.map((img) => this.decode(img).then((value) => ({ ok: true as const, value }), (error: VisionError) => ({ ok: false as const, error }))),
    );
    const good = decoded.flatMap((d) => (d.ok ? [d.value] : []));
    const result = await this.infer(good);
    let k = 0;
    return decoded.map((d) => (d.ok ? { ok: true as const, value: result.detections[k++] } : d));
  }

  async dispose(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.close()));
  }
}

function dimOr(d: Dim | undefined, fallback: number): number {
  return typeof d === 'number' ? d : fallback;
}

function asVisionError(err: unknown): VisionError {
  return err instanceof VisionError ? err : new VisionError('E_IMAGE_DECODE', String(err));
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
