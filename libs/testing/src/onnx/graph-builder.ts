import { onnx } from 'onnx-proto';

export type Dim = number | string;
export type Attr =
  | { kind: 'int'; v: number }
  | { kind: 'ints'; v: number[] }
  | { kind: 'float'; v: number }
  | { kind: 'string'; v: string };

export const int = (v: number): Attr => ({ kind: 'int', v });
export const ints = (v: number[]): Attr => ({ kind: 'ints', v });
export const float = (v: number): Attr => ({ kind: 'float', v });
export const str = (v: string): Attr => ({ kind: 'string', v });

const { DataType } = onnx.TensorProto;
const AT = onnx.AttributeProto.AttributeType;

/**
 * Builds ONNX graphs through the onnx-proto schema (protobufjs), so the bytes are whatever the
 * official encoder writes. Weights go in `raw_data` (little-endian), as PyTorch's exporter does.
 */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private seq = 0;
  /** Number of float weights added through `weight` (what a model summary calls parameters). */
  parameters = 0;

  constructor(private readonly graphName: string) {}

  uniq(prefix: string): string {
    return `${prefix}_${this.seq++}`;
  }

  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, dims, DataType.FLOAT));
    return name;
  }

  output(name: string, dims: Dim[], elemType: number = DataType.FLOAT): void {
    this.outputs.push(valueInfo(name, dims, elemType));
  }

  /** A float initializer counted as a model parameter. */
  weight(prefix: string, dims: number[], data: Float32Array): string {
    this.parameters += data.length;
    return this.constFloat(prefix, dims, data);
  }

  constFloat(prefix: string, dims: number[], data: Float32Array | number[]): string {
    const arr = data instanceof Float32Array ? data : Float32Array.from(data);
    if (arr.length !== dims.reduce((a, b) => a * b, 1))
      throw new Error(`${prefix}: ${arr.length} values for [${dims}]`);
    const name = this.uniq(prefix);
    this.initializers.push({
      name,
      dims,
      dataType: DataType.FLOAT,
      rawData: new Uint8Array(arr.buffer.slice(arr.byteOffset, arr.byteOffset + arr.byteLength)),
    });
    return name;
  }

  constInt64(prefix: string, values: number[], dims: number[] = [values.length]): string {
    const name = this.uniq(prefix);
    const buf = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, dataType: DataType.INT64, rawData: new Uint8Array(buf.buffer) });
    return name;
  }

  /** Adds a node; returns its output names (`outputs` of them). */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, () => this.uniq(opType.toLowerCase()));
    this.nodes.push({
      opType,
      name: this.uniq(`${opType}_node`),
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([name, a]) => attribute(name, a)),
    });
    return outs;
  }

  /** Single-output shorthand. */
  op1(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.op(opType, inputs, attrs, 1)[0];
  }

  /** Renames the tensor produced last under `from` to `to` (for graph outputs with stable names). */
  rename(from: string, to: string): string {
    for (const n of this.nodes) {
      n.output = (n.output ?? []).map((o) => (o === from ? to : o));
      n.input = (n.input ?? []).map((i) => (i === from ? to : i));
    }
    return to;
  }

  encode(metadata: Record<string, string>, opset = 17): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'vision-stream',
      producerVersion: '0.1.0',
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dims: Dim[], elemType: number): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, a: Attr): onnx.IAttributeProto {
  switch (a.kind) {
    case 'int':
      return { name, type: AT.INT, i: a.v };
    case 'ints':
      return { name, type: AT.INTS, ints: a.v };
    case 'float':
      return { name, type: AT.FLOAT, f: a.v };
    case 'string':
      return { name, type: AT.STRING, s: new TextEncoder().encode(a.v) };
  }
}

/** Small deterministic PRNG (mulberry32) so generated weights are the same on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Python-dict-literal text as Ultralytics writes `names` into metadata. */
export function namesLiteral(names: readonly string[]): string {
  return `{${names.map((n, i) => `${i}: '${n.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}}`;
}
