import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildColorCellDetector, buildYoloV8n } from '../src';

describe('generated models', () => {
  it('the YOLOv8n-topology model has YOLOv8n size and cost and runs with the YOLOv8 output shape', async () => {
    const m = buildYoloV8n({ imgsz: 320 });
    expect(m.parameters).toBe(3_151_904); // `YOLOv8n summary (fused): 3151904 parameters`
    expect(buildYoloV8n({ imgsz: 640 }).flops / 1e9).toBeCloseTo(8.7, 1);
    const session = await ort.InferenceSession.create(m.bytes);
    const input = new ort.Tensor('float32', new Float32Array(2 * 3 * 320 * 320).fill(0.5), [2, 3, 320, 320]);
    const out = (await session.run({ images: input }))['output0'];
    expect(out.dims).toEqual([2, 84, 2100]);
    const data = out.data as Float32Array;
    expect(data.every(Number.isFinite)).toBe(true);
    // Random weights with Ultralytics' class-bias init: scores start near zero, so NMS is not flooded.
    let above = 0;
    for (let c = 4; c < 84; c++) for (let a = 0; a < 2100; a++) if (data[c * 2100 + a] > 0.25) above++;
    expect(above).toBeLessThan(100);
  });

  it('is deterministic', () => {
    const spec = { layout: 'v8', batch: 'dynamic', height: 64, width: 96 } as const;
    expect(Buffer.from(buildColorCellDetector(spec)).equals(Buffer.from(buildColorCellDetector(spec)))).toBe(true);
    expect(() => buildColorCellDetector({ ...spec, width: 100 })).toThrow(/multiple/);
  });
});
