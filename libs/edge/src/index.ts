export * from './edge-context';
export * from './client-session';
export * from './edge.service';
export * from './detect.gateway';
export * from './edge.module';
export * from './edge-runtime';
export * from './vision-ws-adapter';
export * from './model-catalog';
