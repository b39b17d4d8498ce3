export * from './token-verifier';
