import { GraphBuilder, int, ints, namesLiteral, type Dim } from '../onnx/graph-builder';

export interface ColorClassifierSpec {
  /** A fixed batch size, or `'dynamic'` for a symbolic batch axis. */
  batch: number | 'dynamic';
  /** Square input side (Ultralytics classify exports are square). */
  size: number;
}

export const CLASSIFIER_CLASSES = ['red', 'green', 'blue', 'dark'] as const;
/**
 * logits = WEIGHTS · (mean R, G, B of the input, in 0..1) + BIAS: red, green and blue score how much
 * a channel stands out of the other two, dark how little light there is.
 */
export const CLASSIFIER_WEIGHTS: readonly (readonly [number, number, number])[] = [
  [4, -2, -2],
  [-2, 4, -2],
  [-2, -2, 4],
  [-1, -1, -1],
];
export const CLASSIFIER_BIAS: readonly number[] = [0, 0, 0, 1.5];

/**
 * A classifier shaped like an Ultralytics `task: classify` export (input `[B, 3, S, S]` float,
 * output `[B, classes]` probabilities after a softmax, metadata `task`, `names`, `imgsz`) whose
 * output is exactly predictable from the mean colour of its input.
 */
export function buildColorClassifier(spec: ColorClassifierSpec): Uint8Array {
  const { size } = spec;
  const nc = CLASSIFIER_CLASSES.length;
  const B: Dim = spec.batch === 'dynamic' ? 'batch' : spec.batch;
  const g = new GraphBuilder('color_classifier');
  const images = g.input('images', [B, 3, size, size]);
  const pooled = g.op1('GlobalAveragePool', [images]); // [B, 3, 1, 1]
  const weights = g.weight('fc_w', [nc, 3, 1, 1], Float32Array.from(CLASSIFIER_WEIGHTS.flat()));
  const bias = g.weight('fc_b', [nc], Float32Array.from(CLASSIFIER_BIAS));
  const logits = g.op1('Conv', [pooled, weights, bias], { kernel_shape: ints([1, 1]) }); // [B, nc, 1, 1]
  const flat = g.op1('Flatten', [logits], { axis: int(1) }); // [B, nc]
  g.rename(g.op1('Softmax', [flat], { axis: int(1) }), 'output0');
  g.output('output0', [B, nc]);
  return g.encode({
    description: 'vision-stream colour fixture classifier',
    author: 'vision-stream',
    version: '0.1.0',
    task: 'classify',
    stride: '1',
    batch: String(spec.batch === 'dynamic' ? 1 : spec.batch),
    imgsz: `[${size}, ${size}]`,
    names: namesLiteral(CLASSIFIER_CLASSES),
  });
}
