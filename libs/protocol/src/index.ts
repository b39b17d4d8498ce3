export * from './error-codes';
export * from './detection';
export * from './image-format';
