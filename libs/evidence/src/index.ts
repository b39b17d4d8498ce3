export * from './snapshot-store';
export * from './snapshot-record';
export * from './snapshot-render';
export * from './snapshot-writer';
export * from './snapshot-retention';
