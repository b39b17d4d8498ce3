import { onnx } from 'onnx-proto';

const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;
/** The serving graph's output where a task adds a tail (detection: [N, K, 6] rows of box, score, class). */
export const SERVING_OUTPUT = 'serving_output';
export const SERVING_INPUT = 'images_u8';

export interface ServingGraphSpec {
  inputName: string;
  /** The task's post-processing after the export's nodes (a task's `servingTail`); it may add none. */
  tail: (sink: ServingGraphSink) => void;
}

/** Why a model cannot be wrapped (the worker then serves the export as it is, and says so). */
export class ServingGraphUnsupported extends Error {}

/**
 * Wraps a user's export in the graph the worker serves, so that the work per frame that is not the
 * network runs on the execution provider and only small tensors cross the host:
 *
 * - input (every task): the frame as uint8 NHWC `[N, H, W, 3]` (a quarter of float32 NCHW); Cast,
 *   /255 and Transpose happen in the graph;
 * - output: whatever the task's tail makes of the export's output (detection: the best K anchors;
 *   classification: the best K classes), so the host decodes a few rows. Needs opset 11 or later
 *   (TopK's K as an input, GatherElements).
 */
export function buildServingGraph(modelBytes: Uint8Array, spec: ServingGraphSpec): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph;
  if (!graph) throw new ServingGraphUnsupported('the ONNX file has no graph');
  const opset = Number((model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
  if (opset < 11) throw new ServingGraphUnsupported(`opset ${opset} is older than 11`);
  const sink = new ServingGraphSink(graph, opset);
  const input = (graph.input ?? []).find((v) => v.name === spec.inputName);
  const dims = input?.type?.tensorType?.shape?.dim ?? [];
  if (!input || dims.length !== 4) throw new ServingGraphUnsupported(`input ${spec.inputName} is not [B, 3, H, W]`);

  // The input wrap: uint8 NHWC in, the original float NCHW input out.
  const nhwc = [dims[0], dims[2], dims[3], dims[1]].map((d) => ({ ...d }));
  graph.input = [
    { name: SERVING_INPUT, type: { tensorType: { elemType: T.UINT8, shape: { dim: nhwc } } } },
    ...(graph.input ?? []).filter((v) => v.name !== spec.inputName),
  ];
  const asFloat = sink.op('Cast', [SERVING_INPUT], { to: intAttr(T.FLOAT) });
  const scaled = sink.op('Div', [asFloat, sink.float('c255', [], [255])]);
  sink.op('Transpose', [scaled], { perm: intsAttr([0, 3, 1, 2]) }, spec.inputName);
  sink.bodyFollows();
  spec.tail(sink);
  return sink.finish(model);
}

type Attr = onnx.IAttributeProto;
export type ServingAttr = Omit<Attr, 'name'>;
export const intAttr = (i: number): ServingAttr => ({ type: A.INT, i });
export const intsAttr = (v: number[]): ServingAttr => ({ type: A.INTS, ints: v });

/**
 * Adds nodes and initializers to a graph under names that cannot clash with the export's own: the
 * input wrap before the export's nodes, the output head after them, so the graph stays sorted.
 */
export class ServingGraphSink {
  private seq = 0;
  private readonly before: onnx.INodeProto[] = [];
  private readonly after: onnx.INodeProto[] = [];
  private into = this.before;

  constructor(
    private readonly graph: onnx.IGraphProto,
    /** The export's default-domain opset. */
    readonly opset: number,
  ) {}

  /** The declared dimensions of one of the export's outputs (empty where it declares none). */
  outputDims(name: string): onnx.TensorShapeProto.IDimension[] {
    return (this.graph.output ?? []).find((v) => v.name === name)?.type?.tensorType?.shape?.dim ?? [];
  }

  /** Makes `name` the graph's one output, float32 of `dims`. */
  setOutput(name: string, dims: onnx.TensorShapeProto.IDimension[]): void {
    this.graph.output = [{ name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: dims } } } }];
  }

  /** Nodes added from now on run after the export's own (called once the input wrap is in). */
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
  op(type: string, inputs: string[], attrs: Record<string, ServingAttr> = {}, output?: string): string {
    return this.ops(type, inputs, attrs, 1, output)[0];
  }

  ops(type: string, inputs: string[], attrs: Record<string, ServingAttr>, outputs: number, output?: string): string[] {
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
