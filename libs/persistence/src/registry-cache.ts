import type { DataSource, EntityManager } from 'typeorm';
import { EgressRuleEntity } from './entities/egress-rule.entity';
import { IngressRuleEntity } from './entities/ingress-rule.entity';
import { InstanceEntity } from './entities/instance.entity';
import { PolicyEntity } from './entities/policy.entity';
import { RouteRuleEntity } from './entities/route-rule.entity';
import { ServiceEntity } from './entities/service.entity';
import type { EgressValue, IngressValue, InstanceValue, PolicyValue, RouteValue, ServiceValue } from './etcd-registry.model';
import { toEgress, toIngress, toInstance, toPolicy, toRoute, toService } from './row-mappers';

export interface CachedRegistry {
  services: ServiceValue[];
  instances: InstanceValue[];
  routes: RouteValue[];
  policies: PolicyValue[];
  ingress: IngressValue[];
  egress: EgressValue[];
}

const CHUNK = 100;

async function insertAll<T extends object>(m: EntityManager, entity: new () => T, rows: T[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) await m.insert(entity, rows.slice(i, i + CHUNK) as never);
}

/**
 * The local SQLite file as a cache of a remote registry (etcd): its registry tables are replaced, all at once,
 * by the last known state, so a restart while etcd is unreachable still starts routing.
 */
export async function writeRegistryCache(ds: DataSource, s: CachedRegistry): Promise<void> {
  // Rows that reference a missing service would break the foreign keys: the cache skips them.
  const names = new Set(s.services.map((x) => x.name));
  await ds.transaction(async (m) => {
    for (const t of ['egress_rule', 'ingress_rule', 'policy', 'route_rule', 'instance', 'service']) await m.query(`DELETE FROM "${t}"`);
    await insertAll(m, ServiceEntity, s.services.map((x) => ({ name: x.name, app: x.app ?? null, description: x.description ?? null, createdAt: x.createdAt ?? 0 })));
    await insertAll(
      m,
      InstanceEntity,
      s.instances.filter((x) => names.has(x.service)).map((x) => ({
        id: x.id,
        service: x.service,
        version: x.version,
        endpoint: x.endpoint,
        labels: x.labels ?? {},
        weight: x.weight,
        status: x.status,
        registeredBy: x.registeredBy,
        lastHeartbeat: x.lastHeartbeat,
        ttl: x.ttl,
        createdAt: x.createdAt ?? 0,
      })),
    );
    await insertAll(
      m,
      RouteRuleEntity,
      s.routes.filter((x) => names.has(x.service)).map((x) => ({
        id: x.id,
        service: x.service,
        precedence: x.precedence,
        match: x.match ?? null,
        route: x.route,
        policy: x.policy ?? null,
        createdAt: x.createdAt ?? 0,
      })),
    );
    await insertAll(m, PolicyEntity, s.policies.filter((x) => names.has(x.service)).map((x) => ({ service: x.service, spec: x.spec, updatedAt: x.updatedAt ?? 0 })));
    await insertAll(
      m,
      IngressRuleEntity,
      s.ingress.map((x) => ({
        id: x.id,
        host: x.host ?? null,
        pathPrefix: x.pathPrefix ?? null,
        pathRegex: x.pathRegex ?? null,
        rewritePath: x.rewritePath ?? null,
        service: x.service,
        port: x.port ?? null,
        createdAt: x.createdAt ?? 0,
      })),
    );
    await insertAll(m, EgressRuleEntity, s.egress.map((x) => ({ id: x.id, host: x.host, ports: x.ports, tls: !!x.tls, policy: x.policy ?? null, createdAt: x.createdAt ?? 0 })));
    // Anyone reading this file incrementally must read it all again.
    await m.query(`INSERT INTO "registry_change" ("at", "kind") VALUES (?, 'all')`, [Date.now()]);
  });
}

/** The registry tables as last written (by the cache or by the SQLite store). */
export async function readRegistryCache(ds: DataSource): Promise<CachedRegistry> {
  const [services, instances, routes, policies, ingress, egress] = await Promise.all([
    ds.getRepository(ServiceEntity).find(),
    ds.getRepository(InstanceEntity).find(),
    ds.getRepository(RouteRuleEntity).find(),
    ds.getRepository(PolicyEntity).find(),
    ds.getRepository(IngressRuleEntity).find(),
    ds.getRepository(EgressRuleEntity).find(),
  ]);
  const at = (e: { createdAt: number }) => ({ createdAt: Number(e.createdAt) });
  return {
    services: services.map((e) => ({ ...toService(e), ...at(e) })),
    instances: instances.map((e) => ({ ...toInstance(e), ...at(e) })),
    routes: routes.map((e) => ({ ...toRoute(e), ...at(e) })),
    policies: policies.map((e) => ({ ...toPolicy(e), updatedAt: Number(e.updatedAt) })),
    ingress: ingress.map((e) => ({ ...toIngress(e), ...at(e) })),
    egress: egress.map((e) => ({ ...toEgress(e), ...at(e) })),
  };
}
