export * from './lifecycle';
export * from './outage-log';
export * from './file-watch';
export * from './redis-startup';
