export * from './vision-metrics';
