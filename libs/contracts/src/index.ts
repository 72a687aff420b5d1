export * from './error-codes';
export * from './model';
