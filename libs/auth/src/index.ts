export * from './token-verifier';
export * from './token-minter';
export * from './revocations';
