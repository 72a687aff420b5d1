export * from './latency-histogram';
export * from './traffic-stats';
export * from './trace-context';
export * from './mesher-metrics';
export * from './access-log';
export * from './series-histogram';
