import { onnx } from 'onnx-proto';
import type { OutputLayoutKind } from './layout';

const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;
/** Outputs of the serving graph: [N, K, 6] rows of box, score, class. */
export const SERVING_OUTPUT = 'serving_output';
export const SERVING_INPUT = 'images_u8';

export interface ServingGraphSpec {
  inputName: string;
  outputName: string;
  layout: OutputLayoutKind;
  /** Candidates kept per image (v5 / v8 / v11 heads), best score first. */
  topK: number;
  /** v5 only: rows whose objectness is at or below this are dropped in the graph, as the host decoder drops them. */
  candidateThreshold: number;
}

/** Why a model cannot be wrapped (the worker then serves the export as it is, and says so). */
export class ServingGraphUnsupported extends Error {}

/**
 * Wraps a user's YOLO export in the graph the worker serves, so that the work per frame that is
 * not the network runs on the execution provider and only small tensors cross the host:
 *
 * - input: the letterboxed frame as uint8 NHWC `[N, H, W, 3]` (a quarter of float32 NCHW); Cast,
 *   /255 and Transpose happen in the graph;
 * - output (v5 / v8 / v11 heads): per anchor the best class and its score, then the `topK` anchors
 *   by score, as `[N, K, 6]` rows of (cx, cy, w, h, score, class); the host keeps only the
 *   class-aware NMS over at most K candidates. End-to-end exports (v10, `nms=True`) keep their
 *   `[N, K, 6]` output: they get the input wrap only.
 *
 * Ties in TopK go to the lower anchor index, the same order the host decoder keeps, so the same
 * candidates reach NMS in the same order. Needs opset 11 or later (TopK's K as an input,
 * GatherElements).
 */
export function buildServingGraph(modelBytes: Uint8Array, spec: ServingGraphSpec): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph;
  if (!graph) throw new ServingGraphUnsupported('the ONNX file has no graph');
  const opset = Number((model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
  if (opset < 11) throw new ServingGraphUnsupported(`opset ${opset} is older than 11`);
  const b = new NodeSink(graph);
  const input = (graph.input ?? []).find((v) => v.name === spec.inputName);
  const dims = input?.type?.tensorType?.shape?.dim ?? [];
  if (!input || dims.length !== 4) throw new ServingGraphUnsupported(`input ${spec.inputName} is not [B, 3, H, W]`);

  // The input wrap: uint8 NHWC in, the original float NCHW input out.
  const nhwc = [dims[0], dims[2], dims[3], dims[1]].map((d) => ({ ...d }));
  graph.input = [
    { name: SERVING_INPUT, type: { tensorType: { elemType: T.UINT8, shape: { dim: nhwc } } } },
    ...(graph.input ?? []).filter((v) => v.name !== spec.inputName),
  ];
  const asFloat = b.op('Cast', [SERVING_INPUT], { to: int(T.FLOAT) });
  const scaled = b.op('Div', [asFloat, b.float('c255', [], [255])]);
  b.op('Transpose', [scaled], { perm: ints([0, 3, 1, 2]) }, spec.inputName);
  b.bodyFollows();

  if (spec.layout === 'end2end') return b.finish(model);

  const out = spec.outputName;
  const outDims = (graph.output ?? []).find((v) => v.name === out)?.type?.tensorType?.shape?.dim ?? [];
  const anchorDim = spec.layout === 'v8' ? outDims[2] : outDims[1];
  const staticAnchors = anchorDim?.dimValue ? Number(anchorDim.dimValue) : undefined;
  const last = b.i64('max', [1], [2 ** 31 - 1]);
  let boxes: string; // [N, A, 4] cx, cy, w, h
  let score: string; // [N, A]
  let classIndex: string; // [N, A] int64
  const flat = b.i64('flat', [2], [0, -1]);
  if (spec.layout === 'v8') {
    const axis1 = b.i64('axis1', [1], [1]);
    boxes = b.op('Transpose', [b.op('Slice', [out, b.i64('s0', [1], [0]), b.i64('e4', [1], [4]), axis1])], {
      perm: ints([0, 2, 1]),
    });
    const [best, bestIndex] = b.ops(
      'TopK',
      [b.op('Slice', [out, b.i64('s4', [1], [4]), last, axis1]), b.i64('one', [1], [1])],
      { axis: int(1) },
      2,
    );
    score = b.op('Reshape', [best, flat]);
    classIndex = b.op('Reshape', [bestIndex, flat]);
  } else {
    const axis2 = b.i64('axis2', [1], [2]);
    const slice = (from: number, to: string) => b.op('Slice', [out, b.i64('s', [1], [from]), to, axis2]);
    boxes = slice(0, b.i64('e4', [1], [4]));
    const objectness = slice(4, b.i64('e5', [1], [5]));
    const [best, bestIndex] = b.ops('TopK', [slice(5, last), b.i64('one', [1], [1])], { axis: int(2) }, 2);
    // score = objectness × best class score, for rows whose objectness clears the threshold.
    const kept = b.op('Greater', [objectness, b.float('threshold', [], [spec.candidateThreshold])]);
    const product = b.op('Mul', [objectness, best]);
    score = b.op('Reshape', [b.op('Where', [kept, product, b.float('zero', [], [0])]), flat]);
    classIndex = b.op('Reshape', [bestIndex, flat]);
  }
  const k =
    staticAnchors !== undefined
      ? b.i64('k', [1], [Math.min(spec.topK, staticAnchors)])
      : dynamicK(b, score, spec.topK, opset);
  const [topScore, topIndex] = b.ops('TopK', [score, k], { axis: int(1) }, 2); // [N, K], best first
  const column = b.i64('column', [3], [0, -1, 1]);
  const index4 = b.op('Expand', [b.op('Reshape', [topIndex, column]), b.i64('four', [3], [1, 1, 4])]);
  const topBoxes = b.op('GatherElements', [boxes, index4], { axis: int(1) });
  const topClass = b.op('Cast', [b.op('GatherElements', [classIndex, topIndex], { axis: int(1) })], {
    to: int(T.FLOAT),
  });
  b.op(
    'Concat',
    [topBoxes, b.op('Reshape', [topScore, column]), b.op('Reshape', [topClass, column])],
    { axis: int(2) },
    SERVING_OUTPUT,
  );
  graph.output = [
    {
      name: SERVING_OUTPUT,
      type: {
        tensorType: {
          elemType: T.FLOAT,
          shape: { dim: [{ ...outDims[0] }, { dimParam: 'candidates' }, { dimValue: 6 }] },
        },
      },
    },
  ];
  return b.finish(model);
}

/** K = min(topK, anchors) when the anchor count is only known at run time (dynamic image size). */
function dynamicK(b: NodeSink, score: string, topK: number, opset: number): string {
  if (opset < 12) throw new ServingGraphUnsupported('a dynamic anchor count needs opset 12 (Min of int64)');
  const anchors = b.op('Slice', [b.op('Shape', [score]), b.i64('s1', [1], [1]), b.i64('e2', [1], [2])]);
  return b.op('Min', [anchors, b.i64('topk', [1], [topK])]);
}

type Attr = onnx.IAttributeProto;
const int = (i: number): Omit<Attr, 'name'> => ({ type: A.INT, i });
const ints = (v: number[]): Omit<Attr, 'name'> => ({ type: A.INTS, ints: v });

/**
 * Adds nodes and initializers to a graph under names that cannot clash with the export's own: the
 * input wrap before the export's nodes, the output head after them, so the graph stays sorted.
 */
class NodeSink {
  private seq = 0;
  private readonly before: onnx.INodeProto[] = [];
  private readonly after: onnx.INodeProto[] = [];
  private into = this.before;

  constructor(private readonly graph: onnx.IGraphProto) {}

  /** Nodes added from now on run after the export's own. */
  bodyFollows(): void {
    this.into = this.after;
  }

  finish(model: onnx.ModelProto): Uint8Array {
    this.graph.node = [...this.before, ...(this.graph.node ?? []), ...this.after];
    return onnx.ModelProto.encode(model).finish();
  }

  private name(prefix: string): string {
    return `serving/${prefix}_${this.seq++}`;
  }

  /** One node; `output` names its output (an existing tensor name the export reads). */
  op(type: string, inputs: string[], attrs: Record<string, Omit<Attr, 'name'>> = {}, output?: string): string {
    return this.ops(type, inputs, attrs, 1, output)[0];
  }

  ops(
    type: string,
    inputs: string[],
    attrs: Record<string, Omit<Attr, 'name'>>,
    outputs: number,
    output?: string,
  ): string[] {
    const outs = Array.from({ length: outputs }, (_, i) => (i === 0 && output) || this.name(type.toLowerCase()));
    this.into.push({
      opType: type,
      name: this.name(type),
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([name, a]) => ({ name, ...a })),
    });
    return outs;
  }

  i64(prefix: string, dims: number[], values: number[]): string {
    const name = this.name(prefix);
    (this.graph.initializer ??= []).push({
      name,
      dims,
      dataType: T.INT64,
      rawData: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer),
    });
    return name;
  }

  float(prefix: string, dims: number[], values: number[]): string {
    const name = this.name(prefix);
    (this.graph.initializer ??= []).push({
      name,
      dims,
      dataType: T.FLOAT,
      rawData: new Uint8Array(Float32Array.from(values).buffer),
    });
    return name;
  }
}
