export * from './http-error';
export * from './route-table';
export * from './body';
export * from './bearer';
export * from './error-reply';
export * from './operator-api';
