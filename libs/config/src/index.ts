export * from './config';
export * from './runtime-defaults';
export * from './settings';
export * from './models';
export * from './node-flags';
export * from './results-config';
export * from './events-config';
export * from './gateway-config';
