export * from './ready-pool';
export * from './inference-worker';
export * from './worker-runtime';
