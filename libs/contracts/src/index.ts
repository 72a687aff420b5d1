export * from './error-codes';
export * from './model';
export * from './config-diff';
export * from './traffic';
export * from './registry-change';
export * from './fixtures';
