import { VisionError } from '@vision/wire';
import type { OutputDecoding } from './decoders';
import { detectOutputLayout, type OutputLayoutKind } from './layout';
import { completeNames, parseUltralyticsMetadata } from './metadata';
import { readOnnxModelInfo, type Dim } from './model-info';
import { buildServingGraph, SERVING_INPUT, SERVING_OUTPUT, ServingGraphUnsupported } from './serving-graph';
import type { SessionShape } from './session-thread-protocol';

/** What the worker runs for one export: the graph, how frames go in and how detections come out. */
export interface ModelPlan {
  shape: SessionShape;
  /** The export's own layout (what `GET /v1/models` reports). */
  layout: OutputLayoutKind;
  task: string | undefined;
  stride: number | undefined;
  graph: Uint8Array;
  input: 'uint8' | 'float';
  output: OutputDecoding;
  /** Whether the serving graph wraps the export, and if not, why. */
  serving: { used: true } | { used: false; reason: string };
  /** For the log: the export's tensors as declared. */
  declared: { input: string; output: string };
  /** The export's own input and output names (the session's may be the serving graph's). */
  exportNames: { input: string; output: string };
}

export interface PlanOptions {
  names: readonly string[] | undefined;
  fallbackImageSize: number;
  servingGraph: boolean;
  topK: number;
  /** The lowest score any caller wants back (the v5 graph drops rows below it). */
  candidateThreshold: number;
}

/**
 * Reads an export, checks it is a detector this worker can serve, learns its shape and class names
 * from the file (a names file overrides them), and wraps it in the serving graph unless that is
 * off or the export cannot take it.
 */
export function planModel(bytes: Uint8Array, path: string, o: PlanOptions): ModelPlan {
  const info = (() => {
    try {
      return readOnnxModelInfo(bytes);
    } catch (err) {
      throw new VisionError('E_MODEL_LOAD', `${path} is not an ONNX model: ${(err as Error).message}`);
    }
  })();
  const meta = parseUltralyticsMetadata(info.metadata);
  if (meta.task && meta.task !== 'detect')
    throw new VisionError('E_MODEL_LOAD', `model task is '${meta.task}'; only 'detect' exports are supported`);
  const input = info.inputs[0];
  const output = info.outputs[0];
  if (!input || !output) throw new VisionError('E_MODEL_LOAD', 'the model needs one image input and an output');
  if (input.elemType !== 'FLOAT')
    throw new VisionError('E_MODEL_LOAD', `input ${input.name} is ${input.elemType}; export with float32 (half=False)`);
  if (input.shape.length !== 4 || (typeof input.shape[1] === 'number' && input.shape[1] !== 3)) {
    throw new VisionError(
      'E_MODEL_LOAD',
      `input ${input.name} has shape [${input.shape.join(', ')}], not [B, 3, H, W]`,
    );
  }
  const declaredNames = o.names ? [...o.names] : meta.names;
  const layout = detectOutputLayout(output.shape, declaredNames?.length);
  const names = completeNames(declaredNames, layout.classCount ?? declaredNames?.length ?? 0);
  const base = {
    layout: layout.kind,
    task: meta.task,
    stride: meta.stride,
    declared: {
      input: `${input.name} [${input.shape.join(', ')}]`,
      output: `${output.name} [${output.shape.join(', ')}]`,
    },
    exportNames: { input: input.name, output: output.name },
  };
  const shape: SessionShape = {
    inputName: input.name,
    outputName: output.name,
    inputWidth: dimOr(input.shape[3], meta.imgsz?.[1] ?? o.fallbackImageSize),
    inputHeight: dimOr(input.shape[2], meta.imgsz?.[0] ?? o.fallbackImageSize),
    batch: typeof input.shape[0] === 'number' ? input.shape[0] : 'dynamic',
    names,
  };
  const asIs = (reason: string): ModelPlan => ({
    ...base,
    shape,
    graph: bytes,
    input: 'float',
    output: layout.kind,
    serving: { used: false, reason },
  });
  if (!o.servingGraph) return asIs('SERVING_GRAPH=false');
  let graph: Uint8Array;
  try {
    graph = buildServingGraph(bytes, {
      inputName: input.name,
      outputName: output.name,
      layout: layout.kind,
      topK: o.topK,
      candidateThreshold: o.candidateThreshold,
    });
  } catch (err) {
    if (err instanceof ServingGraphUnsupported) return asIs(err.message);
    throw err;
  }
  return {
    ...base,
    shape: { ...shape, inputName: SERVING_INPUT, outputName: layout.kind === 'end2end' ? output.name : SERVING_OUTPUT },
    graph,
    input: 'uint8',
    output: layout.kind === 'end2end' ? 'end2end' : 'topk',
    serving: { used: true },
  };
}

function dimOr(d: Dim | undefined, fallback: number): number {
  return typeof d === 'number' ? d : fallback;
}
