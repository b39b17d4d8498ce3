export * from './connection';
export * from './scripts';
export * from './schema-version';
export * from './target';
export * from './sentinel-probe';
