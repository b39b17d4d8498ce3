export * from './backoff';
export * from './pacer';
export * from './stream-stats';
export * from './vision-client';
export * from './client-options';
