import { readFile } from 'node:fs/promises';
import type { InferenceSession } from 'onnxruntime-node';
import { VisionError, type Detection } from '@vision/protocol';
import { InferenceThread } from './inference-thread';
import { detectOutputLayout, type OutputLayoutKind } from './layout';
import type { LetterboxGeometry } from './letterbox';
import { silentLogger, type Logger } from './logger';
import { completeNames, parseUltralyticsMetadata } from './metadata';
import { readOnnxModelInfo, type Dim } from './model-info';
import { DEFAULT_POSTPROCESS, Postprocessor, type PostprocessOptions } from './postprocess';
import { letterboxInto } from './preprocess';
import { providerConfig, type ExecutionProviderName } from './providers';
import { TensorPool } from './tensor-pool';

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
  logger?: Logger;
}

/** What the model file told us, plus the provider that actually runs it. */
export interface ModelDescription {
  path: string;
  inputName: string;
  outputName: string;
  inputWidth: number;
  inputHeight: number;
  /** A fixed batch size, or `'dynamic'`. */
  batch: number | 'dynamic';
  layout: OutputLayoutKind;
  names: readonly string[];
  task: string | undefined;
  stride: number | undefined;
  provider: ExecutionProviderName;
}

export type FrameOutcome<T> = { ok: true; value: T } | { ok: false; error: VisionError };

/** Frames decoded and letterboxed into one batch tensor, ready for `infer`. */
export interface PreparedBatch {
  /** Per input frame: its slot in the tensor and geometry, or why it could not be prepared. */
  frames: FrameOutcome<{ slot: number; geometry: LetterboxGeometry }>[];
  /** Frames that made it into the tensor. */
  count: number;
  tensor: Float32Array;
  preprocessMs: number;
}

export interface InferenceResult {
  /** Per input frame, in input order. */
  frames: FrameOutcome<Detection[]>[];
  /** Number of images each `session.run` carried (the first run's, including padding for static batches). */
  runBatchSize: number;
  inferenceMs: number;
  postprocessMs: number;
}

/**
 * Owns one ONNX Runtime session for a YOLO detector. Everything about the model comes from the
 * file; `prepare` and `infer` are separate so a worker can decode batch k+1 while batch k runs.
 */
export class YoloModel {
  private readonly pool = new TensorPool();
  private readonly post: Postprocessor;
  private readonly chw: number;

  private constructor(
    readonly description: ModelDescription,
    private readonly thread: InferenceThread,
    private readonly opts: { maxInputPixels: number; costlyMaxPixels: number; decodeTimeoutS: number } & PostprocessOptions,
  ) {
    this.post = new Postprocessor(description.layout, description.names, opts);
    this.chw = 3 * description.inputWidth * description.inputHeight;
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
    const sessionOptions = (eps: InferenceSession.ExecutionProviderConfig[]): InferenceSession.SessionOptions => ({
      executionProviders: eps,
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.intraOpThreads ?? 0,
      interOpNumThreads: options.interOpThreads ?? 0,
    });
    let thread: InferenceThread;
    let actual: ExecutionProviderName = provider;
    try {
      thread = await InferenceThread.start(bytes, sessionOptions(providerConfig(provider, deviceId)));
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
      thread = await InferenceThread.start(bytes, sessionOptions(['cpu']));
      actual = 'cpu';
    }

    const description: ModelDescription = {
      path: options.modelPath,
      inputName: input.name,
      outputName: output.name,
      inputWidth,
      inputHeight,
      batch: typeof input.shape[0] === 'number' ? input.shape[0] : 'dynamic',
      layout: layout.kind,
      names,
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
    return new YoloModel(description, thread, {
      ...DEFAULT_POSTPROCESS,
      ...definedOnly({
        confThreshold: options.confThreshold,
        iouThreshold: options.iouThreshold,
        maxDetections: options.maxDetections,
      }),
      maxInputPixels: options.maxInputPixels ?? 40_000_000,
      costlyMaxPixels: options.costlyMaxPixels ?? 4_000_000,
      decodeTimeoutS: options.decodeTimeoutS ?? 2,
    });
  }

  /**
   * Decodes and letterboxes frames in parallel into one tensor. Bad frames fail alone; a frame
   * whose deadline (epoch ms, optional) has passed is answered `E_EXPIRED` without being decoded.
   */
  async prepare(images: readonly Uint8Array[], deadlines?: readonly number[]): Promise<PreparedBatch> {
    const started = performance.now();
    const { inputWidth, inputHeight } = this.description;
    // Static-batch models run in groups of their batch size; room for the padding avoids a copy.
    const fixed = typeof this.description.batch === 'number' ? this.description.batch : 1;
    const tensor = this.pool.acquire(Math.ceil(Math.max(images.length, 1) / fixed) * fixed * this.chw);
    const staged = await Promise.all(
      images.map((img, i) =>
        (deadlines && deadlines[i] <= Date.now()
          ? Promise.reject(new VisionError('E_EXPIRED'))
          : letterboxInto(img, tensor, i * this.chw, {
              inputWidth,
              inputHeight,
              maxInputPixels: this.opts.maxInputPixels,
              costlyMaxPixels: this.opts.costlyMaxPixels,
              timeoutS: this.opts.decodeTimeoutS,
            })
        ).then(
          (geometry) => ({ ok: true as const, geometry, i }),
          (err: unknown) => ({ ok: false as const, error: asVisionError(err) }),
        ),
      ),
    );
    // Compact: failed frames leave holes; successful ones move down so the tensor is dense.
    const frames: PreparedBatch['frames'] = [];
    let slot = 0;
    for (const s of staged) {
      if (!s.ok) {
        frames.push({ ok: false, error: s.error });
        continue;
      }
      if (s.i !== slot) tensor.copyWithin(slot * this.chw, s.i * this.chw, (s.i + 1) * this.chw);
      frames.push({ ok: true, value: { slot, geometry: s.geometry } });
      slot++;
    }
    return { frames, count: slot, tensor, preprocessMs: performance.now() - started };
  }

  /** Runs the prepared frames (one `session.run` for dynamic models) and postprocesses each. */
  async infer(batch: PreparedBatch): Promise<InferenceResult> {
    const { inputWidth: w, inputHeight: h, inputName, outputName } = this.description;
    const group = typeof this.description.batch === 'number' ? this.description.batch : Math.max(batch.count, 1);
    // The tensor's buffer travels to the inference thread and back for every run.
    let tensor: Float32Array | undefined = batch.tensor;
    const length = tensor.length;
    try {
      const outputs: { data: Float32Array; dims: readonly number[]; first: number }[] = [];
      const t0 = performance.now();
      for (let first = 0; first < batch.count; first += group) {
        const view: Float32Array = tensor.subarray(first * this.chw, (first + group) * this.chw);
        tensor = undefined;
        const r = await this.thread.run(inputName, outputName, view, [group, 3, h, w]);
        tensor = new Float32Array(r.buffer, 0, length);
        outputs.push({ data: r.data, dims: r.dims, first });
      }
      const t1 = performance.now();
      const frames: InferenceResult['frames'] = batch.frames.map((f) => {
        if (!f.ok) return f;
        const { slot, geometry } = f.value;
        const out = outputs[Math.floor(slot / group)];
        const [, d1, d2] = out.dims;
        const detections = this.post.run({ data: out.data, offset: (slot - out.first) * d1 * d2, d1, d2 }, geometry);
        return { ok: true, value: detections };
      });
      return {
        frames,
        runBatchSize: batch.count === 0 ? 0 : group,
        inferenceMs: t1 - t0,
        postprocessMs: performance.now() - t1,
      };
    } finally {
      // Lost only if the thread died mid-run; the pool then allocates a fresh buffer.
      if (tensor) this.pool.release(tensor);
    }
  }

  /** `prepare` + `infer` for callers that do not pipeline (CLI, tests). */
  async detect(images: readonly Uint8Array[]): Promise<FrameOutcome<Detection[]>[]> {
    return (await this.infer(await this.prepare(images))).frames;
  }

  async dispose(): Promise<void> {
    await this.thread.close();
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
