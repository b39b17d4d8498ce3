export * from './connection';
export * from './scripts';
export * from './schema-version';
export * from './durability';
export * from './persistence-check';
