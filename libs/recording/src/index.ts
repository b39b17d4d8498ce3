export * from './segments';
export * from './sweep';
export * from './clip';
