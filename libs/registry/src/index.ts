export * from './route-matcher';
export * from './registry-snapshot';
export * from './snapshot-holder';
export * from './route-validation';
export * from './edge-rules';
