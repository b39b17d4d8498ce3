export * from './results-keys';
export * from './results-entry';
export * from './results-writer';
