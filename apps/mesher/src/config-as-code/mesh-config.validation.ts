import { INSTANCE_STATUSES, type FieldError, type MeshConfig, type PolicySpec, type RouteRuleRecord, type StaticInstance } from '@mesher/contracts';
import { validatePolicySpec } from '@mesher/policies';
import { validateRouteRule } from '@mesher/registry';
import { isEndpointUrl, SERVICE_NAME_RE } from '../admin/dto/validators';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ID_RE = /^[A-Za-z0-9._:@-]{1,100}$/;

function unknownKeys(o: Record<string, unknown>, allowed: string[], prefix: string, out: FieldError[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) out.push({ field: `${prefix}${k}`, message: `${prefix}${k} is not a known field` });
}

/**
 * Validates a whole declarative document and fills in defaults. Every problem is reported with its
 * path (e.g. `services[1].instances[0].endpoint`); nothing is applied unless the list is empty.
 * `knownServices` are services that exist outside the document (sidecar-registered) and may be referenced.
 */
export function validateMeshConfig(input: unknown, knownServices: ReadonlySet<string> = new Set()): { config: MeshConfig; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const config: MeshConfig = { services: [], routes: [], policies: {} };
  if (!isObj(input)) return { config, errors: [{ field: 'config', message: 'the configuration must be a mapping with services, routes and policies' }] };
  unknownKeys(input, ['services', 'routes', 'policies'], '', errors);

  const names = new Set<string>();
  const instanceIds = new Set<string>();
  const services = input.services ?? [];
  if (!Array.isArray(services)) errors.push({ field: 'services', message: 'services must be a list' });
  else
    services.forEach((s: unknown, i) => {
      const f = `services[${i}]`;
      if (!isObj(s)) return errors.push({ field: f, message: `${f} must be a mapping` });
      unknownKeys(s, ['name', 'app', 'description', 'instances'], `${f}.`, errors);
      if (typeof s.name !== 'string' || !SERVICE_NAME_RE.test(s.name)) {
        return errors.push({ field: `${f}.name`, message: `${f}.name must be lower-case letters, digits, '-', '_' or '.' (1-63 characters)` });
      }
      if (names.has(s.name)) errors.push({ field: `${f}.name`, message: `${f}.name '${s.name}' appears twice` });
      names.add(s.name);
      for (const k of ['app', 'description'] as const) {
        if (s[k] !== undefined && s[k] !== null && typeof s[k] !== 'string') errors.push({ field: `${f}.${k}`, message: `${f}.${k} must be a string` });
      }
      const instances: StaticInstance[] = [];
      const list = s.instances ?? [];
      if (!Array.isArray(list)) errors.push({ field: `${f}.instances`, message: `${f}.instances must be a list` });
      else
        list.forEach((x: unknown, j) => {
          const g = `${f}.instances[${j}]`;
          if (!isObj(x)) return errors.push({ field: g, message: `${g} must be a mapping` });
          unknownKeys(x, ['id', 'endpoint', 'version', 'labels', 'weight', 'status', 'ttl'], `${g}.`, errors);
          if (!isEndpointUrl(x.endpoint)) return errors.push({ field: `${g}.endpoint`, message: `${g}.endpoint must be an http(s) URL like http://127.0.0.1:8081` });
          const id = x.id ?? `${s.name}@${new URL(x.endpoint as string).host}`;
          if (typeof id !== 'string' || !ID_RE.test(id)) errors.push({ field: `${g}.id`, message: `${g}.id must be 1-100 characters of letters, digits, . _ : @ -` });
          else if (instanceIds.has(id)) errors.push({ field: `${g}.id`, message: `${g}.id '${id}' appears twice` });
          instanceIds.add(String(id));
          if (x.version !== undefined && typeof x.version !== 'string') errors.push({ field: `${g}.version`, message: `${g}.version must be a string` });
          if (x.labels !== undefined && (!isObj(x.labels) || Object.values(x.labels).some((v) => typeof v !== 'string'))) {
            errors.push({ field: `${g}.labels`, message: `${g}.labels must be a mapping of strings` });
          }
          if (x.weight !== undefined && (!Number.isInteger(x.weight) || (x.weight as number) < 0 || (x.weight as number) > 10000)) {
            errors.push({ field: `${g}.weight`, message: `${g}.weight must be an integer from 0 to 10000` });
          }
          if (x.status !== undefined && !INSTANCE_STATUSES.includes(x.status as never)) errors.push({ field: `${g}.status`, message: `${g}.status must be one of ${INSTANCE_STATUSES.join(', ')}` });
          if (x.ttl !== undefined && (!Number.isInteger(x.ttl) || (x.ttl as number) < 0)) errors.push({ field: `${g}.ttl`, message: `${g}.ttl must be a non-negative integer` });
          instances.push({
            id: String(id),
            endpoint: x.endpoint as string,
            version: (x.version as string) ?? '0.0.0',
            labels: (x.labels as Record<string, string>) ?? {},
            weight: (x.weight as number) ?? 100,
            status: (x.status as StaticInstance['status']) ?? 'UP',
            ttl: (x.ttl as number) ?? 0,
          });
        });
      config.services.push({ name: s.name, app: (s.app as string) ?? null, description: (s.description as string) ?? null, instances });
    });

  const exists = (svc: unknown) => typeof svc === 'string' && (names.has(svc) || knownServices.has(svc));
  const routeIds = new Set<string>();
  const routes = input.routes ?? [];
  if (!Array.isArray(routes)) errors.push({ field: 'routes', message: 'routes must be a list' });
  else
    routes.forEach((r: unknown, i) => {
      const f = `routes[${i}]`;
      if (!isObj(r)) return errors.push({ field: f, message: `${f} must be a mapping` });
      const { id, ...rule } = r;
      for (const e of validateRouteRule(rule)) errors.push({ field: `${f}.${e.field}`, message: `${f}.${e.message}` });
      if (typeof rule.service === 'string' && !exists(rule.service)) errors.push({ field: `${f}.service`, message: `${f}.service '${rule.service}' is not a service of this configuration` });
      const rid = id ?? `${String(rule.service)}-${i}`;
      if (typeof rid !== 'string' || !ID_RE.test(rid)) errors.push({ field: `${f}.id`, message: `${f}.id must be 1-100 characters of letters, digits, . _ : @ -` });
      else if (routeIds.has(rid)) errors.push({ field: `${f}.id`, message: `${f}.id '${rid}' appears twice` });
      routeIds.add(String(rid));
      const rr = rule as unknown as RouteRuleRecord;
      config.routes.push({ id: String(rid), service: rr.service, precedence: rr.precedence ?? 0, match: rr.match ?? null, route: rr.route, policy: rr.policy ?? null });
    });

  const policies = input.policies ?? {};
  if (!isObj(policies)) errors.push({ field: 'policies', message: 'policies must be a mapping of service name to policy' });
  else
    for (const [svc, spec] of Object.entries(policies)) {
      const f = `policies.${svc}`;
      if (!exists(svc)) errors.push({ field: f, message: `${f}: '${svc}' is not a service of this configuration` });
      for (const e of validatePolicySpec(spec)) errors.push({ field: `${f}.${e.field}`, message: `${f}.${e.message}` });
      config.policies[svc] = spec as PolicySpec;
    }
  return { config, errors };
}
