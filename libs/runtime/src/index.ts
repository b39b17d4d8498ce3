export * from './lifecycle';
export * from './outage-log';
