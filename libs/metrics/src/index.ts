export * from './vision-metrics';
export * from './metrics-server';
export * from './gateway-metrics';
export * from './events-metrics';
