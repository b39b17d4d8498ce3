export * from './connection';
export * from './scripts';
export * from './schema-version';
export * from './target';
export * from './sentinel-probe';
export * from './durability';
export * from './persistence-check';
