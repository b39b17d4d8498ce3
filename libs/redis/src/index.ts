export * from './connection';
export * from './scripts';
