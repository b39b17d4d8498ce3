export * from './ready-pool';
export * from './inference-worker';
export * from './detector';
export * from './inference-worker-options';
export * from './worker-runtime';
