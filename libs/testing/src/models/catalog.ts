import { buildColorClassifier, type ColorClassifierSpec } from './color-classifier';
import { buildColorCellDetector, type ColorCellDetectorSpec } from './color-cell-detector';
import { buildYoloV8n } from './yolov8n-topology';

/** Fixture detectors by file stem: every output layout, dynamic and static batch, square and not. */
export const FIXTURE_MODELS: Record<string, ColorCellDetectorSpec> = {
  'colors-v8-dyn': { layout: 'v8', batch: 'dynamic', height: 640, width: 640 },
  'colors-v8-b1': { layout: 'v8', batch: 1, height: 640, width: 640 },
  'colors-v8-b4': { layout: 'v8', batch: 4, height: 640, width: 640 },
  'colors-v8-rect': { layout: 'v8', batch: 'dynamic', height: 384, width: 640 },
  'colors-v8-nonames': { layout: 'v8', batch: 'dynamic', height: 640, width: 640, withNames: false },
  'colors-v5-dyn': { layout: 'v5', batch: 'dynamic', height: 640, width: 640 },
  'colors-v5-b1': { layout: 'v5', batch: 1, height: 640, width: 640 },
  'colors-e2e-dyn': { layout: 'end2end', batch: 'dynamic', height: 640, width: 640 },
  'colors-e2e-b1': { layout: 'end2end', batch: 1, height: 640, width: 640 },
};

/** Fixture classifiers (Ultralytics `task: classify`) by file stem: static and dynamic batch. */
export const FIXTURE_CLASSIFIERS: Record<string, ColorClassifierSpec> = {
  'colors-cls-b1': { batch: 1, size: 224 },
  'colors-cls-dyn': { batch: 'dynamic', size: 224 },
};

export const BENCH_MODEL_SIZES = [640, 320] as const;

export function benchModelName(imgsz: number): string {
  return `yolov8n-topology-${imgsz}`;
}

export { buildColorCellDetector, buildColorClassifier, buildYoloV8n };
