export * from './bulk-keys';
export * from './bulk-jobs';
export * from './bulk-source';
export * from './bulk-runner';
