export * from './error-codes';
export * from './detection';
export * from './image-format';
export * from './frame-header';
export * from './messages';
