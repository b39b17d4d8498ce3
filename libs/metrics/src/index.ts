export * from './vision-metrics';
export * from './metrics-server';
