export * from './paths';
export * from './onnx/graph-builder';
export * from './models/color-cell-detector';
export * from './models/yolov8n-topology';
export * from './models/catalog';
export * from './images';
