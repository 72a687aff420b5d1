export * from './error-codes';
export * from './model';
export * from './config-diff';
export * from './registry-change';
