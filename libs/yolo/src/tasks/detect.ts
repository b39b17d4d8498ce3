import { onnx } from 'onnx-proto';
import type { OutputDecoding } from '../decoders';
import { detectOutputLayout } from '../layout';
import { completeNames } from '../metadata';
import { Postprocessor } from '../postprocess';
import { letterboxFit } from '../preprocess';
import { intAttr, intsAttr, SERVING_OUTPUT, ServingGraphUnsupported, type ServingGraphSink } from '../serving-graph';
import type { ModelTask, ServedOutput, TailSpec } from './model-task';

const FLOAT = onnx.TensorProto.DataType.FLOAT;

/**
 * Ultralytics `task: detect` (and exports without a `task`, which predate it): boxes with a class
 * and a score. Letterboxed in, decoded by layout (layout.ts, decoders.ts), class-aware NMS
 * (postprocess.ts), boxes mapped back to original pixels.
 */
export const detectTask: ModelTask = {
  name: 'detect',
  fit: letterboxFit,
  head(output, _meta, names) {
    const layout = detectOutputLayout(output.shape, names?.length);
    return {
      layout: layout.kind,
      names: completeNames(names ? [...names] : undefined, layout.classCount ?? names?.length ?? 0),
      decoding: layout.kind,
    };
  },
  servingTail: detectionTail,
  postprocessor: (decoding, names, opts) => new Postprocessor(decoding as OutputDecoding, names, opts),
};

/**
 * Per anchor the best class and its score, then the `topK` anchors by score, as `[N, K, 6]` rows
 * of (cx, cy, w, h, score, class); the host keeps only the class-aware NMS over at most K
 * candidates. End-to-end exports (v10, `nms=True`) keep their `[N, K, 6]` output: the input wrap
 * only. Ties in TopK go to the lower anchor index, the order the host decoder keeps, so the same
 * candidates reach NMS in the same order.
 */
function detectionTail(b: ServingGraphSink, spec: TailSpec): ServedOutput | undefined {
  const layout = spec.head.layout;
  if (layout === 'end2end') return undefined;
  const out = spec.outputName;
  const outDims = b.outputDims(out);
  const anchorDim = layout === 'v8' ? outDims[2] : outDims[1];
  const staticAnchors = anchorDim?.dimValue ? Number(anchorDim.dimValue) : undefined;
  const last = b.i64('max', [1], [2 ** 31 - 1]);
  let boxes: string; // [N, A, 4] cx, cy, w, h
  let score: string; // [N, A]
  let classIndex: string; // [N, A] int64
  const flat = b.i64('flat', [2], [0, -1]);
  if (layout === 'v8') {
    const axis1 = b.i64('axis1', [1], [1]);
    boxes = b.op('Transpose', [b.op('Slice', [out, b.i64('s0', [1], [0]), b.i64('e4', [1], [4]), axis1])], {
      perm: intsAttr([0, 2, 1]),
    });
    const [best, bestIndex] = b.ops(
      'TopK',
      [b.op('Slice', [out, b.i64('s4', [1], [4]), last, axis1]), b.i64('one', [1], [1])],
      { axis: intAttr(1) },
      2,
    );
    score = b.op('Reshape', [best, flat]);
    classIndex = b.op('Reshape', [bestIndex, flat]);
  } else {
    const axis2 = b.i64('axis2', [1], [2]);
    const slice = (from: number, to: string) => b.op('Slice', [out, b.i64('s', [1], [from]), to, axis2]);
    boxes = slice(0, b.i64('e4', [1], [4]));
    const objectness = slice(4, b.i64('e5', [1], [5]));
    const [best, bestIndex] = b.ops('TopK', [slice(5, last), b.i64('one', [1], [1])], { axis: intAttr(2) }, 2);
    // score = objectness × best class score, for rows whose objectness clears the threshold.
    const kept = b.op('Greater', [objectness, b.float('threshold', [], [spec.candidateThreshold])]);
    const product = b.op('Mul', [objectness, best]);
    score = b.op('Reshape', [b.op('Where', [kept, product, b.float('zero', [], [0])]), flat]);
    classIndex = b.op('Reshape', [bestIndex, flat]);
  }
  const k =
    staticAnchors !== undefined ? b.i64('k', [1], [Math.min(spec.topK, staticAnchors)]) : dynamicK(b, score, spec.topK);
  const [topScore, topIndex] = b.ops('TopK', [score, k], { axis: intAttr(1) }, 2); // [N, K], best first
  const column = b.i64('column', [3], [0, -1, 1]);
  const index4 = b.op('Expand', [b.op('Reshape', [topIndex, column]), b.i64('four', [3], [1, 1, 4])]);
  const topBoxes = b.op('GatherElements', [boxes, index4], { axis: intAttr(1) });
  const topClass = b.op('Cast', [b.op('GatherElements', [classIndex, topIndex], { axis: intAttr(1) })], {
    to: intAttr(FLOAT),
  });
  b.op(
    'Concat',
    [topBoxes, b.op('Reshape', [topScore, column]), b.op('Reshape', [topClass, column])],
    { axis: intAttr(2) },
    SERVING_OUTPUT,
  );
  b.setOutput(SERVING_OUTPUT, [{ ...outDims[0] }, { dimParam: 'candidates' }, { dimValue: 6 }]);
  return { outputName: SERVING_OUTPUT, decoding: 'topk' };
}

/** K = min(topK, anchors) when the anchor count is only known at run time (dynamic image size). */
function dynamicK(b: ServingGraphSink, score: string, topK: number): string {
  if (b.opset < 12) throw new ServingGraphUnsupported('a dynamic anchor count needs opset 12 (Min of int64)');
  const anchors = b.op('Slice', [b.op('Shape', [score]), b.i64('s1', [1], [1]), b.i64('e2', [1], [2])]);
  return b.op('Min', [anchors, b.i64('topk', [1], [topK])]);
}
