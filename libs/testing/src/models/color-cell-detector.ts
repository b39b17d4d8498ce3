import { onnx } from 'onnx-proto';
import { GraphBuilder, int, ints, namesLiteral, type Dim } from '../onnx/graph-builder';

export type FixtureLayout = 'v8' | 'v5' | 'end2end';

export interface ColorCellDetectorSpec {
  layout: FixtureLayout;
  /** A fixed batch size, or `'dynamic'` for a symbolic batch axis. */
  batch: number | 'dynamic';
  /** Input height and width; multiples of `cell`. */
  height: number;
  width: number;
  /** @defaultValue 32 */
  cell?: number;
  /** Write the `names` metadata (off to test the `class_<i>` fallback). @defaultValue true */
  withNames?: boolean;
}

const COLOR_CLASSES = ['red', 'green', 'blue'] as const;
/** Constant objectness the v5 variant emits, so tests can see that decoders multiply it in. */
export const V5_OBJECTNESS = 0.8;

/**
 * A detector whose output is exactly predictable. The image is average-pooled into `cell`-pixel
 * cells; a 1×1 convolution scores each cell's colour as
 *   red = R − (G + B) / 2,  green = G − (R + B) / 2,  blue = B − (R + G) / 2   (channels in 0..1),
 * so grey (the letterbox padding) and white score 0, a fully red cell scores 1, and a cell that is
 * a fraction f red and the rest grey scores f. Every cell proposes its own square as its box.
 */
export function buildColorCellDetector(spec: ColorCellDetectorSpec): Uint8Array {
  const cell = spec.cell ?? 32;
  const { height: H, width: W } = spec;
  if (H % cell || W % cell) throw new Error(`input ${H}×${W} is not a multiple of the ${cell}-pixel cell`);
  const gh = H / cell;
  const gw = W / cell;
  const n = gh * gw;
  const nc = COLOR_CLASSES.length;
  const B: Dim = spec.batch === 'dynamic' ? 'batch' : spec.batch;
  const g = new GraphBuilder('color_cell_detector');

  const images = g.input('images', [B, 3, H, W]);
  const pooled = g.op1('AveragePool', [images], { kernel_shape: ints([cell, cell]), strides: ints([cell, cell]) });
  const weights = g.weight('score_w', [nc, 3, 1, 1], Float32Array.from([1, -0.5, -0.5, -0.5, 1, -0.5, -0.5, -0.5, 1]));
  const bias = g.weight('score_b', [nc], new Float32Array(nc));
  const cellScores = g.op1('Conv', [pooled, weights, bias], { kernel_shape: ints([1, 1]) });
  const scores = g.op1('Reshape', [cellScores, g.constInt64('shape', [0, nc, -1])]); // [B, nc, N]
  const batchDim = g.op1('Slice', [g.op1('Shape', [images]), g.constInt64('s', [0]), g.constInt64('e', [1])]);
  const expandTo = (constant: string, rest: number[]) =>
    g.op1('Expand', [constant, g.op1('Concat', [batchDim, g.constInt64('rest', rest)], { axis: int(0) })]);

  const cx: number[] = [];
  const cy: number[] = [];
  for (let r = 0; r < gh; r++) {
    for (let c = 0; c < gw; c++) {
      cx.push((c + 0.5) * cell);
      cy.push((r + 0.5) * cell);
    }
  }
  let out: string;
  let outDims: Dim[];
  if (spec.layout === 'v8' || spec.layout === 'v5') {
    const rows = [cx, cy, cx.map(() => cell), cy.map(() => cell)];
    if (spec.layout === 'v5') rows.push(cx.map(() => V5_OBJECTNESS));
    const boxes = g.constFloat('boxes', [1, rows.length, n], rows.flat());
    const cat = g.op1('Concat', [expandTo(boxes, [rows.length, n]), scores], { axis: int(1) });
    if (spec.layout === 'v8') {
      out = cat;
      outDims = [B, 4 + nc, n];
    } else {
      out = g.op1('Transpose', [cat], { perm: ints([0, 2, 1]) });
      outDims = [B, n, 5 + nc];
    }
  } else {
    const k = Math.min(300, n);
    const best = g.op1('ReduceMax', [scores], { axes: ints([1]), keepdims: int(0) }); // [B, N]
    const bestClass = g.op1('ArgMax', [scores], { axis: int(1), keepdims: int(0) }); // [B, N] int64
    const [topScore, topIndex] = g.op('TopK', [best, g.constInt64('k', [k])], { axis: int(1) }, 2); // [B, K]
    const xyxy: number[] = [];
    for (let i = 0; i < n; i++) xyxy.push(cx[i] - cell / 2, cy[i] - cell / 2, cx[i] + cell / 2, cy[i] + cell / 2);
    const boxes = expandTo(g.constFloat('xyxy', [1, n, 4], xyxy), [n, 4]);
    const axis2 = g.constInt64('axis2', [2]);
    const index4 = expandTo(g.op1('Unsqueeze', [topIndex, axis2]), [k, 4]);
    const picked = g.op1('GatherElements', [boxes, index4], { axis: int(1) });
    const cls = g.op1('Cast', [g.op1('GatherElements', [bestClass, topIndex], { axis: int(1) })], {
      to: int(onnx.TensorProto.DataType.FLOAT),
    });
    out = g.op1('Concat', [picked, g.op1('Unsqueeze', [topScore, axis2]), g.op1('Unsqueeze', [cls, axis2])], {
      axis: int(2),
    });
    outDims = [B, k, 6];
  }
  g.rename(out, 'output0');
  g.output('output0', outDims);

  const metadata: Record<string, string> = {
    description: `vision-stream colour-cell fixture detector (${spec.layout})`,
    author: 'vision-stream',
    version: '0.1.0',
    task: 'detect',
    stride: String(cell),
    batch: String(spec.batch === 'dynamic' ? 1 : spec.batch),
    imgsz: `[${H}, ${W}]`,
  };
  if (spec.withNames !== false) metadata['names'] = namesLiteral(COLOR_CLASSES);
  return g.encode(metadata);
}
