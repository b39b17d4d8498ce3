export * from './transport';
export * from './memory-transport';
export * from './redis-keys';
export * from './redis-connection';
export * from './redis-edge-transport';
export * from './redis-worker-transport';
export * from './redis-connection-leases';
export * from './token-bucket';
