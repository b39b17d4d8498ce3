export * from './dynamic-batcher';
export * from './inference-worker';
export * from './worker-runtime';
