export * from './webhook';
export * from './webhook-target';
