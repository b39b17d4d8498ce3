import { onnx } from 'onnx-proto';

/** A dimension is a fixed size or a symbolic name (a dynamic axis). */
export type Dim = number | string;

export interface TensorInfo {
  name: string;
  shape: Dim[];
  /** ONNX element type name, e.g. `FLOAT` or `FLOAT16`. */
  elemType: string;
}

export interface OnnxModelInfo {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  metadata: Record<string, string>;
  opset: number | undefined;
  producer: string;
}

/**
 * Reads graph inputs, outputs and metadata from an ONNX file through the protobuf schema
 * (onnx-proto). onnxruntime-node does not expose `metadata_props`, so this is the only way to
 * learn class names and image size from an Ultralytics export.
 */
export function readOnnxModelInfo(bytes: Uint8Array): OnnxModelInfo {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new Error('the ONNX file has no graph');
  // IR < 4 lists initializers as inputs too; they are weights, not things we feed.
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name)).map(toTensorInfo);
  const outputs = (graph.output ?? []).map(toTensorInfo);
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  const defaultDomain = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    inputs,
    outputs,
    metadata,
    opset: defaultDomain ? Number(defaultDomain.version) : undefined,
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
  };
}

function toTensorInfo(v: onnx.IValueInfoProto): TensorInfo {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  const elem: number = v.type?.tensorType?.elemType ?? 0;
  return {
    name: v.name ?? '',
    elemType: onnx.TensorProto.DataType[elem] ?? String(elem),
    shape: dims.map((d, i) => {
      if (d.dimValue !== null && d.dimValue !== undefined && Number(d.dimValue) > 0) return Number(d.dimValue);
      return d.dimParam || `dim${i}`;
    }),
  };
}
