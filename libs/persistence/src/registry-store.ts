import type {
  EgressRuleRecord,
  IngressRuleRecord,
  InstanceRecord,
  MeshConfig,
  InstanceStatus,
  PolicyRecord,
  PolicySpec,
  RegistryChanges,
  RegistryState,
  RegistryStatus,
  RouteRuleRecord,
  ServiceRecord,
} from '@mesher/contracts';

export interface NewInstance {
  id?: string;
  endpoint: string;
  version?: string;
  labels?: Record<string, string>;
  weight?: number;
  status?: InstanceStatus;
  ttl?: number;
  registeredBy?: string;
}

export type InstancePatch = Partial<Pick<InstanceRecord, 'endpoint' | 'version' | 'labels' | 'weight' | 'status' | 'ttl'>>;

export type NewRouteRule = Omit<RouteRuleRecord, 'id'> & { id?: string };

export type EdgeRuleKind = 'ingress' | 'egress';
export type EdgeRuleOf<K extends EdgeRuleKind> = K extends 'ingress' ? IngressRuleRecord : EgressRuleRecord;

export interface RevisionRecord {
  id: number;
  at: number;
  actor: string;
  summary: string;
  diff: unknown;
  /** The whole configuration after this revision (null when not kept). */
  config: MeshConfig | null;
}

// The status shape is a contract: the admin API answers it and the dashboard reads it.
export type { RegistryStatus };

/**
 * What the control plane needs from a registry store. SQLite implements it; etcd can too.
 * Every write records a revision except heartbeats and sidecar self-registration (they would flood it).
 */
export interface RegistryStore {
  readonly kind: 'sqlite' | 'etcd';
  loadState(): Promise<RegistryState>;
  /** Changes whenever anyone (this or another process) committed; cheap to poll. */
  changeToken(): Promise<number>;
  /**
   * Incremental reads, for stores that keep a change log (SQLite): the log's position now (read it before
   * loadState), and what changed after a position, or null when the log no longer reaches back (read everything).
   */
  changeSeq?(): Promise<number>;
  changesSince?(seq: number): Promise<RegistryChanges | null>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Connection state, for stores that have one (etcd); the admin answers for SQLite itself. */
  status?(): RegistryStatus;

  listServices(): Promise<ServiceRecord[]>;
  getService(name: string): Promise<ServiceRecord | null>;
  createService(rec: ServiceRecord, actor: string): Promise<ServiceRecord>;
  deleteService(name: string, actor: string): Promise<void>;

  listInstances(service: string): Promise<InstanceRecord[]>;
  getInstance(service: string, id: string): Promise<InstanceRecord | null>;
  registerInstance(service: string, input: NewInstance, actor: string): Promise<InstanceRecord>;
  updateInstance(service: string, id: string, patch: InstancePatch, actor: string): Promise<InstanceRecord>;
  deleteInstance(service: string, id: string, actor: string): Promise<void>;
  heartbeat(service: string, id: string): Promise<InstanceRecord>;

  listRoutes(service?: string): Promise<RouteRuleRecord[]>;
  getRoute(id: string): Promise<RouteRuleRecord | null>;
  createRoute(rule: NewRouteRule, actor: string): Promise<RouteRuleRecord>;
  replaceRoute(id: string, rule: Omit<RouteRuleRecord, 'id'>, actor: string): Promise<RouteRuleRecord>;
  deleteRoute(id: string, actor: string): Promise<void>;
  /** Replaces the rules of every service named in `rules`, all or nothing. */
  replaceServiceRoutes(rules: Map<string, NewRouteRule[]>, actor: string): Promise<RouteRuleRecord[]>;

  listPolicies(): Promise<PolicyRecord[]>;
  getPolicy(service: string): Promise<PolicyRecord | null>;
  putPolicy(service: string, spec: PolicySpec, actor: string): Promise<PolicyRecord>;
  deletePolicy(service: string, actor: string): Promise<void>;

  listRevisions(offset: number, limit: number): Promise<{ total: number; items: RevisionRecord[] }>;
  getRevision(id: number): Promise<RevisionRecord | null>;

  /** Edge (ingress) and egress rules: plain records with an id, written like route rules. */
  listEdgeRules<K extends EdgeRuleKind>(kind: K): Promise<EdgeRuleOf<K>[]>;
  getEdgeRule<K extends EdgeRuleKind>(kind: K, id: string): Promise<EdgeRuleOf<K> | null>;
  /** Creates (id absent or new) or replaces (`replace` true: the id must exist) a rule. */
  putEdgeRule<K extends EdgeRuleKind>(kind: K, rule: EdgeRuleOf<K>, actor: string, replace: boolean): Promise<EdgeRuleOf<K>>;
  deleteEdgeRule(kind: EdgeRuleKind, id: string, actor: string): Promise<void>;
  /**
   * Makes the configuration exactly `config` (sidecar-registered instances are left alone), all or nothing,
   * as one revision. Returns the new revision number, or null when nothing changed.
   */
  replaceConfig(config: MeshConfig, actor: string, summary: string): Promise<number | null>;
}
