/** Shapes of the admin API's answers (mirrors libs/contracts; the dashboard talks only to the REST API). */

export interface FieldError {
  field: string;
  message: string;
}

export type InstanceStatus = 'UP' | 'DOWN' | 'DRAINING';
export const INSTANCE_STATUSES: readonly InstanceStatus[] = ['UP', 'DOWN', 'DRAINING'];

export interface InstanceCounts {
  total: number;
  up: number;
  down: number;
  draining: number;
}

export interface ServiceSummary {
  name: string;
  app: string | null;
  description: string | null;
  instances: InstanceCounts;
  versions: string[];
}

export interface Instance {
  id: string;
  service: string;
  version: string;
  endpoint: string;
  labels: Record<string, string>;
  weight: number;
  status: InstanceStatus;
  registeredBy: string;
  lastHeartbeat: number;
  ttl: number;
}

export interface ServiceDetail {
  name: string;
  app: string | null;
  description: string | null;
  instances: Instance[];
  counts: InstanceCounts;
  versions: string[];
}

export interface HeaderMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
  caseInsensitive?: boolean;
}

export interface RouteMatch {
  source?: string;
  headers?: Record<string, HeaderMatch>;
  pathPrefix?: string;
  methods?: string[];
}

export interface RouteTarget {
  tags: Record<string, string>;
  weight: number;
}

export interface RouteRule {
  id: string;
  service: string;
  precedence: number;
  match: RouteMatch | null;
  route: RouteTarget[];
  policy?: PolicySpec | null;
}

export const LB_STRATEGIES = ['RoundRobin', 'Random', 'WeightedRoundRobin', 'LeastRequest', 'SessionSticky'] as const;

/** Loosely typed: the form edits what it knows and keeps the rest as it came. */
export type PolicySpec = Record<string, Record<string, unknown> | undefined>;

export interface PolicyRecord {
  service: string;
  spec: PolicySpec;
}

export interface PolicyDetail extends PolicyRecord {
  effective: PolicySpec;
}

export interface WindowStats {
  requests: number;
  rps: number;
  errors: number;
  errorRatio: number;
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

/** GET /v1/runtime/:service: this Mesher's live data-plane view of a service. */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'off';

export interface InstanceRuntime {
  id: string;
  endpoint: string;
  status: InstanceStatus;
  routable: boolean;
  ejected: boolean;
  unhealthy: boolean;
  inflight: number;
  latencyMs: number;
}

export interface ServiceRuntime {
  service: string;
  circuit: CircuitState;
  instances: InstanceRuntime[];
}

export interface Revision {
  id: number;
  at: number;
  actor: string;
  summary: string;
  /** As recorded by the write that made it (free form: created / updated / a list of changes). */
  diff: unknown;
  config?: unknown;
}

export interface RevisionPage {
  total: number;
  offset: number;
  limit: number;
  items: Revision[];
}

export interface ConfigChange {
  op: 'add' | 'remove' | 'change';
  kind: 'service' | 'instance' | 'route' | 'policy';
  key: string;
  before?: unknown;
  after?: unknown;
}

export interface RevisionDiff {
  from: number;
  to: number;
  changes: ConfigChange[];
}

export interface RollbackResult {
  applied: boolean;
  revision: number;
  changes: ConfigChange[];
}

export interface IngressRule {
  id: string;
  host: string | null;
  pathPrefix: string | null;
  pathRegex: string | null;
  rewritePath: string | null;
  service: string;
  port: number | null;
}

export interface EgressRule {
  id: string;
  host: string;
  ports: number[];
  tls: boolean;
  policy: PolicySpec | null;
}
