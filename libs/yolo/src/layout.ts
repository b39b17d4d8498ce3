import { VisionError } from '@vision/wire';
import type { Dim } from './model-info';

/**
 * - `v8`: YOLOv8 / YOLO11 `[B, 4+nc, N]`: cx, cy, w, h, then class scores (no objectness).
 * - `v5`: YOLOv5 `[B, N, 5+nc]`: cx, cy, w, h, objectness, class scores.
 * - `end2end`: YOLOv10 and `nms=True` exports `[B, K, 6]`: x1, y1, x2, y2, score, class.
 */
export type OutputLayoutKind = 'v8' | 'v5' | 'end2end';

export interface OutputLayout {
  kind: OutputLayoutKind;
  /** Number of classes the output can carry; `undefined` for end2end (the class is a value). */
  classCount: number | undefined;
}

/**
 * Decides the layout from the output shape. The class count from metadata disambiguates when
 * known; otherwise the anchor axis is the larger (or the dynamic) one.
 */
export function detectOutputLayout(shape: Dim[], knownClassCount?: number): OutputLayout {
  const fail = (why: string): never => {
    throw new VisionError(
      'E_MODEL_LAYOUT',
      `unsupported output shape [${shape.join(', ')}]: ${why}; expected [B, 4+nc, N] (YOLOv8/11), ` +
        '[B, N, 5+nc] (YOLOv5) or [B, K, 6] (YOLOv10 / nms=True)',
    );
  };
  if (shape.length !== 3) return fail(`rank ${shape.length}, not 3`);
  const [, d1, d2] = shape;
  const n1 = typeof d1 === 'number' ? d1 : undefined;
  const n2 = typeof d2 === 'number' ? d2 : undefined;
  if (knownClassCount !== undefined) {
    if (n1 === 4 + knownClassCount && (n2 === undefined || n2 > n1)) return { kind: 'v8', classCount: knownClassCount };
    if (n2 === 5 + knownClassCount && (n1 === undefined || n1 > n2)) return { kind: 'v5', classCount: knownClassCount };
    if (n2 === 6) return { kind: 'end2end', classCount: undefined };
    return fail(`it does not fit the ${knownClassCount} class names in the metadata`);
  }
  if (n2 === 6) return { kind: 'end2end', classCount: undefined };
  if (n1 !== undefined && n1 > 4 && (n2 === undefined || n1 < n2)) return { kind: 'v8', classCount: n1 - 4 };
  if (n2 !== undefined && n2 > 5 && (n1 === undefined || n2 < n1)) return { kind: 'v5', classCount: n2 - 5 };
  return fail('cannot tell the box axis from the anchor axis');
}
