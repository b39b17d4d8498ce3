export * from './lifecycle';
export * from './outage-log';
export * from './redis-startup';
