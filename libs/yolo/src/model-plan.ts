import { VisionError } from '@vision/wire';
import { parseUltralyticsMetadata, type UltralyticsMetadata } from './metadata';
import { readOnnxModelInfo, type Dim } from './model-info';
import { buildServingGraph, SERVING_INPUT, ServingGraphUnsupported } from './serving-graph';
import type { SessionShape } from './session-thread-protocol';
import type { ServedOutput } from './tasks/model-task';
import { modelTask } from './tasks/registry';

/** What the worker runs for one export: the graph, how frames go in and how its output is read. */
export interface ModelPlan {
  shape: SessionShape;
  /** The task (tasks/registry.ts): `detect` for exports that name none. */
  task: string;
  /** The export's own layout (what `GET /v1/models` reports). */
  layout: string;
  stride: number | undefined;
  graph: Uint8Array;
  input: 'uint8' | 'float';
  /** How the session's output is read (the task's decoding). */
  output: string;
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
  classifyTopK: number;
}

/**
 * Reads an export, finds its task (an unknown one is refused), lets the task check its output and
 * metadata, learns the input shape and class names from the file (a names file overrides them),
 * and wraps it in the serving graph unless that is off or the export cannot take it.
 */
export function planModel(bytes: Uint8Array, path: string, o: PlanOptions): ModelPlan {
  const info = (() => {
    try {
      return readOnnxModelInfo(bytes);
    } catch (err) {
      throw new VisionError('E_MODEL_LOAD', `${path} is not an ONNX model: ${(err as Error).message}`);
    }
  })();
  const meta = metadataOf(info.metadata);
  const task = modelTask(meta.task);
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
  const head = task.head(output, meta, o.names ? [...o.names] : meta.names);
  const base = {
    task: task.name,
    layout: head.layout,
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
    names: head.names,
  };
  const asIs = (reason: string): ModelPlan => ({
    ...base,
    shape,
    graph: bytes,
    input: 'float',
    output: head.decoding,
    serving: { used: false, reason },
  });
  if (!o.servingGraph) return asIs('SERVING_GRAPH=false');
  let graph: Uint8Array;
  let served: ServedOutput | undefined;
  try {
    graph = buildServingGraph(bytes, {
      inputName: input.name,
      tail: (sink) => {
        served = task.servingTail(sink, { ...o, head, outputName: output.name });
      },
    });
  } catch (err) {
    if (err instanceof ServingGraphUnsupported) return asIs(err.message);
    throw err;
  }
  return {
    ...base,
    shape: { ...shape, inputName: SERVING_INPUT, outputName: served?.outputName ?? output.name },
    graph,
    input: 'uint8',
    output: served?.decoding ?? head.decoding,
    serving: { used: true },
  };
}

/** The metadata, or `E_MODEL_INVALID` naming the field that does not parse. */
function metadataOf(props: Record<string, string>): UltralyticsMetadata {
  try {
    return parseUltralyticsMetadata(props);
  } catch (err) {
    throw new VisionError('E_MODEL_INVALID', (err as Error).message);
  }
}

function dimOr(d: Dim | undefined, fallback: number): number {
  return typeof d === 'number' ? d : fallback;
}
