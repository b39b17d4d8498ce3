import { GraphBuilder, int, ints, namesLiteral, seededRandom, str } from '../onnx/graph-builder';

export interface YoloV8nSpec {
  /** Square input size. @defaultValue 640 */
  imgsz?: number;
  /** @defaultValue 80 */
  classCount?: number;
  /** @defaultValue 1 */
  seed?: number;
}

export interface BuiltModel {
  bytes: Uint8Array;
  parameters: number;
  /** Multiply-accumulates × 2 over all convolutions, as Ultralytics' model summary counts GFLOPs. */
  flops: number;
}

/** A feature map as it flows through the builder: its tensor name, channels and spatial size. */
interface Fm {
  name: string;
  c: number;
  h: number;
  w: number;
}

/**
 * The YOLOv8n graph as `yolo export format=onnx dynamic=True` writes it after fusing BatchNorm
 * (Conv+bias, SiLU as x·sigmoid(x); C2f, SPPF, nearest-upsample/concat neck, decoupled head with
 * DFL and anchor decoding), with random weights. Same widths and depths as yolov8n.yaml at scale n
 * (depth 0.33, width 0.25), so it costs what the real model costs; it detects nothing meaningful.
 */
export function buildYoloV8n(spec: YoloV8nSpec = {}): BuiltModel {
  const imgsz = spec.imgsz ?? 640;
  const nc = spec.classCount ?? 80;
  const rand = seededRandom(spec.seed ?? 1);
  const g = new GraphBuilder('yolov8n_topology');
  let flops = 0;

  const uniform = (len: number, a: number) => Float32Array.from({ length: len }, () => (rand() * 2 - 1) * a);

  const conv = (
    x: Fm,
    c2: number,
    k: number,
    s: number,
    opts: { act?: boolean; bias?: number; scale?: number } = {},
  ): Fm => {
    const p = Math.floor(k / 2);
    const fanIn = x.c * k * k;
    const w = g.weight('w', [c2, x.c, k, k], uniform(c2 * fanIn, (opts.scale ?? 1) * Math.sqrt(6 / fanIn)));
    const b = g.weight('b', [c2], new Float32Array(c2).fill(opts.bias ?? 0));
    let y = g.op1('Conv', [x.name, w, b], {
      kernel_shape: ints([k, k]),
      strides: ints([s, s]),
      pads: ints([p, p, p, p]),
      dilations: ints([1, 1]),
      group: int(1),
    });
    const h = Math.floor((x.h + 2 * p - k) / s) + 1;
    const wd = Math.floor((x.w + 2 * p - k) / s) + 1;
    flops += 2 * c2 * fanIn * h * wd;
    if (opts.act !== false) y = g.op1('Mul', [y, g.op1('Sigmoid', [y])]);
    return { name: y, c: c2, h, w: wd };
  };
  const concat = (xs: Fm[]): Fm => ({
    name: g.op1(
      'Concat',
      xs.map((x) => x.name),
      { axis: int(1) },
    ),
    c: xs.reduce((a, x) => a + x.c, 0),
    h: xs[0].h,
    w: xs[0].w,
  });
  const split = (x: Fm, sizes: number[]): Fm[] =>
    g.op('Split', [x.name, g.constInt64('split', sizes)], { axis: int(1) }, sizes.length).map((name, i) => ({
      name,
      c: sizes[i],
      h: x.h,
      w: x.w,
    }));
  const c2f = (x: Fm, c2: number, n: number, shortcut: boolean): Fm => {
    const c = Math.floor(c2 * 0.5);
    const ys = split(conv(x, 2 * c, 1, 1), [c, c]);
    for (let i = 0; i < n; i++) {
      const prev = ys[ys.length - 1];
      const b = conv(conv(prev, c, 3, 1), c, 3, 1);
      ys.push(shortcut ? { ...b, name: g.op1('Add', [prev.name, b.name]) } : b);
    }
    return conv(concat(ys), c2, 1, 1);
  };
  const sppf = (x: Fm, c2: number): Fm => {
    const ys = [conv(x, x.c / 2, 1, 1)];
    for (let i = 0; i < 3; i++) {
      const prev = ys[ys.length - 1];
      const name = g.op1('MaxPool', [prev.name], {
        kernel_shape: ints([5, 5]),
        strides: ints([1, 1]),
        pads: ints([2, 2, 2, 2]),
      });
      ys.push({ ...prev, name });
    }
    return conv(concat(ys), c2, 1, 1);
  };
  const upsample = (x: Fm): Fm => ({
    name: g.op1('Resize', [x.name, '', g.constFloat('scales', [4], [1, 1, 2, 2])], {
      mode: str('nearest'),
      coordinate_transformation_mode: str('asymmetric'),
      nearest_mode: str('floor'),
    }),
    c: x.c,
    h: x.h * 2,
    w: x.w * 2,
  });

  // Backbone (yolov8.yaml, scale n).
  const input: Fm = { name: g.input('images', ['batch', 3, imgsz, imgsz]), c: 3, h: imgsz, w: imgsz };
  const p1 = conv(input, 16, 3, 2);
  const p2 = c2f(conv(p1, 32, 3, 2), 32, 1, true);
  const p3 = c2f(conv(p2, 64, 3, 2), 64, 2, true);
  const p4 = c2f(conv(p3, 128, 3, 2), 128, 2, true);
  const p5 = sppf(c2f(conv(p4, 256, 3, 2), 256, 1, true), 256);
  // Neck.
  const n4 = c2f(concat([upsample(p5), p4]), 128, 1, false);
  const out3 = c2f(concat([upsample(n4), p3]), 64, 1, false);
  const out4 = c2f(concat([conv(out3, 64, 3, 2), n4]), 128, 1, false);
  const out5 = c2f(concat([conv(out4, 128, 3, 2), p5]), 256, 1, false);

  // Detect head: c2 = max(16, ch0/4, 4·reg_max), c3 = max(ch0, min(nc, 100)).
  const regMax = 16;
  const c2 = Math.max(16, out3.c / 4, regMax * 4);
  const c3 = Math.max(out3.c, Math.min(nc, 100));
  const levels = [
    { x: out3, stride: 8 },
    { x: out4, stride: 16 },
    { x: out5, stride: 32 },
  ];
  const flat: string[] = [];
  const anchors: number[][] = [[], []];
  const strides: number[] = [];
  for (const { x, stride } of levels) {
    const box = conv(conv(conv(x, c2, 3, 1), c2, 3, 1), 4 * regMax, 1, 1, { act: false, bias: 1 });
    // Ultralytics' bias_init: log(5 / nc / (640 / s)²), so sigmoid scores start near zero.
    const clsBias = Math.log(5 / nc / (640 / stride) ** 2);
    const cls = conv(conv(conv(x, c3, 3, 1), c3, 3, 1), nc, 1, 1, { act: false, bias: clsBias, scale: 0.05 });
    const cat = concat([box, cls]);
    flat.push(g.op1('Reshape', [cat.name, g.constInt64('shape', [0, 4 * regMax + nc, -1])]));
    for (let r = 0; r < x.h; r++) {
      for (let c = 0; c < x.w; c++) {
        anchors[0].push(c + 0.5);
        anchors[1].push(r + 0.5);
        strides.push(stride);
      }
    }
  }
  const a = strides.length;
  const all = g.op1('Concat', flat, { axis: int(2) });
  const [boxDist, clsLogits] = g.op('Split', [all, g.constInt64('split', [4 * regMax, nc])], { axis: int(1) }, 2);
  // DFL: softmax over 16 bins per side, expectation via a fixed 1×1 conv with weights 0..15.
  const bins = g.op1('Transpose', [g.op1('Reshape', [boxDist, g.constInt64('shape', [0, 4, regMax, -1])])], {
    perm: ints([0, 2, 1, 3]),
  });
  const dflWeight = g.weight(
    'dfl',
    [1, regMax, 1, 1],
    Float32Array.from({ length: regMax }, (_, i) => i),
  );
  const dist = g.op1('Reshape', [
    g.op1('Conv', [g.op1('Softmax', [bins], { axis: int(1) }), dflWeight], { kernel_shape: ints([1, 1]) }),
    g.constInt64('shape', [0, 4, -1]),
  ]);
  // dist2bbox (xywh) then scale by stride.
  const [lt, rb] = g.op('Split', [dist, g.constInt64('split', [2, 2])], { axis: int(1) }, 2);
  const anchorPoints = g.constFloat('anchors', [1, 2, a], [...anchors[0], ...anchors[1]]);
  const x1y1 = g.op1('Sub', [anchorPoints, lt]);
  const x2y2 = g.op1('Add', [anchorPoints, rb]);
  const centre = g.op1('Div', [g.op1('Add', [x1y1, x2y2]), g.constFloat('two', [1], [2])]);
  const wh = g.op1('Sub', [x2y2, x1y1]);
  const dbox = g.op1('Mul', [
    g.op1('Concat', [centre, wh], { axis: int(1) }),
    g.constFloat('strides', [1, 1, a], strides),
  ]);
  const out = g.op1('Concat', [dbox, g.op1('Sigmoid', [clsLogits])], { axis: int(1) });
  g.rename(out, 'output0');
  g.output('output0', ['batch', 4 + nc, a]);

  const names = Array.from({ length: nc }, (_, i) => `class_${i}`);
  const bytes = g.encode({
    description: 'vision-stream YOLOv8n-topology benchmark model (random weights)',
    author: 'vision-stream',
    version: '0.1.0',
    task: 'detect',
    stride: '32',
    batch: '1',
    imgsz: `[${imgsz}, ${imgsz}]`,
    names: namesLiteral(names),
  });
  return { bytes, parameters: g.parameters, flops };
}
