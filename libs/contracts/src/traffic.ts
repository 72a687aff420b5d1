/** Shapes of the live traffic statistics: what `GET /v1/traffic` and its history answer (observability computes them). */

export interface WindowStats {
  requests: number;
  /** requests / covered seconds (the window's slots up to `now`). */
  rps: number;
  errors: number;
  /** errors / requests, 0 without requests. */
  errorRatio: number;
  /** Latency quantiles in ms (~3% relative precision), 0 without requests. */
  p50: number;
  p90: number;
  p99: number;
}

export type TrafficWindow = '1m' | '5m';

export interface EdgeStats {
  source: string;
  destination: string;
  windows: Record<TrafficWindow, WindowStats>;
}

export interface InstanceStats {
  destination: string;
  instanceId: string;
  windows: Record<TrafficWindow, WindowStats>;
}

export interface TrafficSnapshot {
  at: number;
  edges: EdgeStats[];
  instances: InstanceStats[];
}

export interface MinuteRollup {
  /** Epoch ms of the minute's start. */
  minute: number;
  source: string;
  destination: string;
  requests: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  sumMs: number;
}
