export * from './bulk-keys';
export * from './bulk-jobs';
export * from './job-status';
export * from './bulk-source';
export * from './bulk-runner';
