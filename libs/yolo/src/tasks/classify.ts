import { onnx } from 'onnx-proto';
import { VisionError, type Classification } from '@vision/wire';
import type { OutputView } from '../decoders';
import { pyRound } from '../letterbox';
import { completeNames } from '../metadata';
import type { FrameDetections } from '../postprocess';
import type { FramePlacement } from '../preprocess';
import { intAttr, SERVING_OUTPUT } from '../serving-graph';
import type { FramePostprocessor, ModelTask } from './model-task';

/**
 * Ultralytics `task: classify`: the whole frame gets class probabilities (the export ends in a
 * softmax, output `[N, classes]`); the answer is the best `CLASSIFY_TOP_K` classes, no threshold,
 * no boxes.
 */
export const classifyTask: ModelTask = {
  name: 'classify',
  fit: centreCropFit,
  head(output, _meta, names) {
    const [, classes] = output.shape;
    if (output.shape.length !== 2 || typeof classes !== 'number' || classes < 1) {
      throw new VisionError(
        'E_MODEL_LAYOUT',
        `unsupported classifier output shape [${output.shape.join(', ')}]; ` +
          'expected [B, classes] (Ultralytics classify)',
      );
    }
    if (names && names.length !== classes) {
      throw new VisionError(
        'E_MODEL_INVALID',
        `metadata names: ${names.length} class names for a classifier of ${classes} classes`,
      );
    }
    return {
      layout: 'classify',
      names: completeNames(names ? [...names] : undefined, classes),
      decoding: 'probabilities',
    };
  },
  servingTail(b, spec) {
    // TopK in the graph: the host reads K (score, class) rows instead of every class's probability.
    const k = b.i64('k', [1], [Math.min(spec.classifyTopK, spec.head.names.length)]);
    const [score, index] = b.ops('TopK', [spec.outputName, k], { axis: intAttr(1) }, 2); // [N, K], best first
    const column = b.i64('column', [3], [0, -1, 1]);
    const asFloat = b.op('Cast', [index], { to: intAttr(onnx.TensorProto.DataType.FLOAT) });
    const rows = [b.op('Reshape', [score, column]), b.op('Reshape', [asFloat, column])];
    b.op('Concat', rows, { axis: intAttr(2) }, SERVING_OUTPUT);
    b.setOutput(SERVING_OUTPUT, [{ ...b.outputDims(spec.outputName)[0] }, { dimParam: 'classes' }, { dimValue: 2 }]);
    return { outputName: SERVING_OUTPUT, decoding: 'top-classes' };
  },
  postprocessor: (decoding, names, opts) => new TopClasses(decoding, names, opts.classifyTopK),
};

/**
 * Ultralytics' `classify_transforms` at inference: a square input takes the image's shorter side
 * resized to the input size (the longer side scaled and truncated, as torchvision's `Resize(int)`),
 * then the centre crop (offsets rounded as `CenterCrop` rounds); a non-square input is a plain
 * resize to it (`Resize((h, w))`, the crop then a no-op). No padding either way.
 */
export function centreCropFit(
  origWidth: number,
  origHeight: number,
  inputWidth: number,
  inputHeight: number,
): FramePlacement {
  const geometry = {
    origWidth,
    origHeight,
    inputWidth,
    inputHeight,
    ratio: Math.min(inputWidth / origWidth, inputHeight / origHeight),
    resizedWidth: inputWidth,
    resizedHeight: inputHeight,
    padLeft: 0,
    padTop: 0,
    padRight: 0,
    padBottom: 0,
  };
  if (inputWidth !== inputHeight) return { geometry, resize: { width: inputWidth, height: inputHeight } };
  const size = inputWidth;
  const short = Math.min(origWidth, origHeight);
  const long = Math.floor((size * Math.max(origWidth, origHeight)) / short);
  const resize = origWidth <= origHeight ? { width: size, height: long } : { width: long, height: size };
  const crop = {
    left: pyRound((resize.width - size) / 2),
    top: pyRound((resize.height - size) / 2),
    width: size,
    height: size,
  };
  return { geometry: { ...geometry, ratio: size / short }, resize, crop };
}

/**
 * The best classes of one frame, best first, ties to the lower class index (ONNX TopK's order, so
 * the serving graph and the export as it is agree). `probabilities`: the export's `[classes]` row;
 * `top-classes`: the serving graph's `[K, 2]` rows of (score, class), already in order.
 */
class TopClasses implements FramePostprocessor {
  private readonly order: Int32Array;

  constructor(
    private readonly decoding: string,
    private readonly names: readonly string[],
    private readonly topK: number,
  ) {
    if (decoding !== 'probabilities' && decoding !== 'top-classes')
      throw new Error(`classify: unknown output decoding '${decoding}'`);
    this.order = new Int32Array(Math.min(topK, names.length));
  }

  run(view: OutputView): FrameDetections {
    const classifications =
      this.decoding === 'top-classes' ? this.fromRows(view) : this.fromProbabilities(view, this.order);
    return { detections: [], high: 0, classifications };
  }

  private fromRows({ data, offset, d1: rows, d2: cols }: OutputView): Classification[] {
    const out: Classification[] = [];
    for (let r = 0; r < Math.min(rows, this.topK); r++)
      out.push(this.entry(Math.round(data[offset + r * cols + 1]), data[offset + r * cols]));
    return out;
  }

  /** Keeps the best `order.length` indices by insertion: K is small beside the class count. */
  private fromProbabilities({ data, offset, d1: classes }: OutputView, order: Int32Array): Classification[] {
    let kept = 0;
    for (let c = 0; c < classes; c++) {
      const p = data[offset + c];
      let at = kept;
      while (at > 0 && data[offset + order[at - 1]] < p) at--;
      if (at >= order.length) continue;
      order.copyWithin(at + 1, at, Math.min(kept, order.length - 1));
      order[at] = c;
      if (kept < order.length) kept++;
    }
    return Array.from(order.subarray(0, kept), (c) => this.entry(c, data[offset + c]));
  }

  private entry(cls: number, score: number): Classification {
    return { class: cls, name: this.names[cls] ?? `class_${cls}`, confidence: Math.round(score * 10000) / 10000 };
  }
}
