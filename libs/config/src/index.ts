export * from './config';
export * from './lifecycle';
export * from './models';
export * from './node-flags';
