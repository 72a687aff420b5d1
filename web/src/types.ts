/** Shapes of the admin API's answers: the contracts' own where they match, the dashboard's views of the rest. */

import type {
  ConfigChange,
  FieldError,
  HeaderMatch,
  IngressRuleRecord,
  InstanceRecord,
  InstanceStatus,
  RegistryStatus,
  RouteMatch,
  RouteRuleRecord,
  RouteTarget,
  ServiceRecord,
} from '../../libs/contracts/src/index';

// Shapes the API answers exactly as the contracts define them (type-only: nothing of libs/ is bundled).
export type { ConfigChange, FieldError, HeaderMatch, InstanceStatus, RegistryStatus, RouteMatch, RouteTarget };
export type {
  EdgeStats,
  InstanceStats,
  MinuteRollup,
  TrafficSnapshot,
  TrafficWindow,
  WindowStats,
} from '../../libs/contracts/src/index';
export type IngressRule = IngressRuleRecord;
export const INSTANCE_STATUSES: readonly InstanceStatus[] = ['UP', 'DOWN', 'DRAINING'];

export interface InstanceCounts {
  total: number;
  up: number;
  down: number;
  draining: number;
}

export interface ServiceSummary extends ServiceRecord {
  instances: InstanceCounts;
  versions: string[];
}

export type Instance = InstanceRecord;

export interface ServiceDetail extends ServiceRecord {
  instances: Instance[];
  counts: InstanceCounts;
  versions: string[];
}

/** A route rule whose policy override is the dashboard's loosely typed spec. */
export type RouteRule = Omit<RouteRuleRecord, 'policy'> & { policy?: PolicySpec | null };

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

export interface EgressRule {
  id: string;
  host: string;
  ports: number[];
  tls: boolean;
  policy: PolicySpec | null;
}
