/** Plain data shapes shared by the control plane (persistence, admin) and the data plane (registry, proxy). */

export type InstanceStatus = 'UP' | 'DOWN' | 'DRAINING';
export const INSTANCE_STATUSES: readonly InstanceStatus[] = ['UP', 'DOWN', 'DRAINING'];

export interface ServiceRecord {
  name: string;
  app: string | null;
  description: string | null;
}

export interface InstanceRecord {
  id: string;
  service: string;
  version: string;
  /** Absolute base URL, e.g. http://127.0.0.1:8081 */
  endpoint: string;
  labels: Record<string, string>;
  weight: number;
  status: InstanceStatus;
  /** 'api' for hand registrations, 'sidecar:<node>' for self-registrations. */
  registeredBy: string;
  /** Epoch milliseconds of the last heartbeat (or registration). */
  lastHeartbeat: number;
  /** Seconds without heartbeat after which the instance leaves the routing table; 0 = never expires. */
  ttl: number;
}

export interface HeaderMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
  caseInsensitive?: boolean;
}

export interface RouteMatch {
  /** Caller service name (x-mesher-source as set by the consumer-side Mesher). */
  source?: string;
  headers?: Record<string, HeaderMatch>;
  pathPrefix?: string;
  methods?: string[];
}

export interface RouteTarget {
  /** Instance selector: `version` compares the instance version, any other key an instance label. */
  tags: Record<string, string>;
  weight: number;
}

export interface RouteRuleRecord {
  id: string;
  service: string;
  precedence: number;
  match: RouteMatch | null;
  route: RouteTarget[];
  /** Policy overrides for traffic matched by this rule (merged over the service policy). */
  policy?: PolicySpec | null;
}

export type LoadBalancerStrategy =
  | 'RoundRobin'
  | 'Random'
  | 'WeightedRoundRobin'
  | 'LeastRequest'
  | 'SessionSticky';
export const LOAD_BALANCER_STRATEGIES: readonly LoadBalancerStrategy[] = [
  'RoundRobin',
  'Random',
  'WeightedRoundRobin',
  'LeastRequest',
  'SessionSticky',
];

export interface LoadBalancerSpec {
  strategy: LoadBalancerStrategy;
  /** SessionSticky: header that carries the session key. */
  sessionHeader?: string;
  /** SessionSticky: cookie that carries the session key (used when the header is absent). */
  sessionCookie?: string;
  /** SessionSticky: failures on the pinned instance before the session moves. */
  sessionFailureThreshold?: number;
}

export interface TimeoutSpec {
  /** Whole request, all attempts included. */
  requestMs?: number;
  /** One attempt. */
  perTryMs?: number;
}

export interface RetrySpec {
  /** Total attempts including the first (1 = no retry). */
  attempts: number;
  /** 'connect-failure' | 'reset' | '5xx' | '502' | '503' | '504' | any status code as string. */
  retryOn?: string[];
  /** Retry non-idempotent methods or requests with a body. */
  retryNonIdempotent?: boolean;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Linkerd-style budget: retries may add at most this ratio of live requests ... */
  budgetRatio?: number;
  /** ... plus this many retries per second. */
  budgetMinPerSecond?: number;
}

export interface CircuitBreakerSpec {
  /** Open when the error percentage in the window reaches this. */
  errorThresholdPercent: number;
  /** Minimum requests in the window before the breaker may open. */
  requestVolumeThreshold: number;
  /** Rolling window length. */
  windowMs: number;
  /** Time open before a half-open probe is let through. */
  sleepWindowMs: number;
}

export interface OutlierSpec {
  consecutiveErrors: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
}

export interface RateLimitSpec {
  /** Tokens per second for the whole service (this sidecar's share). */
  requestsPerSecond?: number;
  burst?: number;
  /** Per caller service: tokens per second for each source. */
  perSourceRequestsPerSecond?: number;
}

export interface FaultSpec {
  delay?: { fixedDelayMs: number; percent: number };
  abort?: { httpStatus: number; percent: number };
  /** Only requests whose headers match (exact values). */
  headers?: Record<string, HeaderMatch>;
}

export interface HealthCheckSpec {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export interface PolicySpec {
  loadBalancer?: LoadBalancerSpec;
  timeout?: TimeoutSpec;
  retry?: RetrySpec;
  circuitBreaker?: CircuitBreakerSpec;
  outlier?: OutlierSpec;
  rateLimit?: RateLimitSpec;
  fault?: FaultSpec;
  healthCheck?: HealthCheckSpec;
}

export interface PolicyRecord {
  service: string;
  spec: PolicySpec;
}

/** Everything the data plane needs, as read from the store at one revision. */
export interface RegistryState {
  revision: number;
  services: ServiceRecord[];
  instances: InstanceRecord[];
  routes: RouteRuleRecord[];
  policies: PolicyRecord[];
  /** Edge and egress rules (absent in stores that do not keep them). */
  ingress?: IngressRuleRecord[];
  egress?: EgressRuleRecord[];
}

/** A validation failure, `field` as a dotted path (e.g. `route[1].weight`). */
export interface FieldError {
  field: string;
  message: string;
}

/** An instance registered by hand (not by a sidecar), as kept in a declarative configuration. */
export type StaticInstance = Pick<InstanceRecord, 'id' | 'endpoint' | 'version' | 'labels' | 'weight' | 'status' | 'ttl'>;

/**
 * The whole declarative configuration: what `GET /v1/config` exports and `PUT /v1/config` applies.
 * Sidecar-registered instances are runtime state, not configuration, and never appear here.
 */
export interface MeshConfig {
  services: Array<ServiceRecord & { instances: StaticInstance[] }>;
  routes: RouteRuleRecord[];
  policies: Record<string, PolicySpec>;
}

/** Config as it stands in a registry state (sorted, so equal configs serialize equally). */
export function configOf(state: Pick<RegistryState, 'services' | 'instances' | 'routes' | 'policies'>): MeshConfig {
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  // Grouped once: filtering every instance per service is quadratic (seconds at 10,000 instances).
  const staticOf = new Map<string, InstanceRecord[]>();
  for (const i of state.instances) {
    if (i.registeredBy.startsWith('sidecar:')) continue;
    let list = staticOf.get(i.service);
    if (!list) staticOf.set(i.service, (list = []));
    list.push(i);
  }
  return {
    services: state.services
      .slice()
      .sort(byName)
      .map((s) => ({
        name: s.name,
        app: s.app,
        description: s.description,
        instances: (staticOf.get(s.name) ?? [])
          .slice()
          .sort(byId)
          .map((i) => ({ id: i.id, endpoint: i.endpoint, version: i.version, labels: i.labels, weight: i.weight, status: i.status, ttl: i.ttl })),
      })),
    routes: state.routes
      .slice()
      .sort(byId)
      .map((r) => ({ id: r.id, service: r.service, precedence: r.precedence, match: r.match ?? null, route: r.route, policy: r.policy ?? null })),
    policies: Object.fromEntries(
      state.policies
        .slice()
        .sort((a, b) => (a.service < b.service ? -1 : 1))
        .map((p) => [p.service, p.spec]),
    ),
  };
}

/** Edge mode: maps requests from outside the mesh to a service by host and path. */
export interface IngressRuleRecord {
  id: string;
  /** Exact host (`api.example.com`) or wildcard (`*.example.com`); absent = any host. */
  host: string | null;
  pathPrefix: string | null;
  pathRegex: string | null;
  /** Replaces the matched prefix (or the whole regex match); '' or '/' strips it. Null keeps the path. */
  rewritePath: string | null;
  service: string;
  /** Port the service is addressed with (passed on as X-Forwarded-Port), if any. */
  port: number | null;
}

/** Lets sidecars call a host outside the mesh, with the policies of a service. */
export interface EgressRuleRecord {
  id: string;
  /** Exact host or `*.` wildcard. */
  host: string;
  /** Allowed ports (default [80, 443]). */
  ports: number[];
  /** Originate TLS: the app speaks plain HTTP to Mesher, Mesher speaks HTTPS to the host. */
  tls: boolean;
  policy: PolicySpec | null;
}

/** Where the registry lives and whether it answers: `GET /v1/registry` and the dashboard show it. */
export interface RegistryStatus {
  kind: 'sqlite' | 'etcd';
  /** False while the store cannot be reached (the data plane keeps the last known state). */
  connected: boolean;
  endpoints: string[];
  prefix?: string;
  /** Where the state in memory came from: the store, the local cache (restart during an outage), or nowhere yet. */
  source: 'etcd' | 'sqlite' | 'cache' | 'empty';
  /** When the state was last read in full from the store (ISO time), null if not since start. */
  lastSyncAt: string | null;
  /** The store's own revision of that state (etcd: the cluster revision). */
  revision: number;
  /** The configuration revision (the newest entry of the revision history). */
  configRevision: number;
  lastError: string | null;
}
