import type { EgressRuleRecord, IngressRuleRecord, InstanceRecord, PolicyRecord, RouteRuleRecord, ServiceRecord } from '@mesher/contracts';

/**
 * Stored rows to records, one mapper for every store: SQLite entities, etcd values and the SQLite cache's rows
 * all carry the records' fields (plus bookkeeping such as createdAt, dropped here).
 */
export const toService = (v: ServiceRecord): ServiceRecord => ({ name: v.name, app: v.app ?? null, description: v.description ?? null });
export const toInstance = (v: InstanceRecord): InstanceRecord => ({
  id: v.id,
  service: v.service,
  version: v.version,
  endpoint: v.endpoint,
  labels: v.labels ?? {},
  weight: v.weight,
  status: v.status,
  registeredBy: v.registeredBy,
  lastHeartbeat: Number(v.lastHeartbeat),
  ttl: v.ttl,
});
export const toRoute = (v: RouteRuleRecord): RouteRuleRecord => ({
  id: v.id,
  service: v.service,
  precedence: v.precedence,
  match: v.match ?? null,
  route: v.route,
  policy: v.policy ?? null,
});
export const toPolicy = (v: PolicyRecord): PolicyRecord => ({ service: v.service, spec: v.spec });
export const toIngress = (v: IngressRuleRecord): IngressRuleRecord => ({
  id: v.id,
  host: v.host ?? null,
  pathPrefix: v.pathPrefix ?? null,
  pathRegex: v.pathRegex ?? null,
  rewritePath: v.rewritePath ?? null,
  service: v.service,
  port: v.port ?? null,
});
export const toEgress = (v: EgressRuleRecord): EgressRuleRecord => ({ id: v.id, host: v.host, ports: v.ports, tls: !!v.tls, policy: v.policy ?? null });
