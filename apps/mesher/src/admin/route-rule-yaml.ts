import { AdminError, type RouteRuleRecord } from '@mesher/contracts';
import { parse, stringify } from 'yaml';

/** Parses YAML (or passes through an already parsed JSON body); a syntax error is a 400 naming the line. */
export function parseYamlBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return parse(body);
  } catch (e) {
    throw new AdminError('INVALID', `body is not valid YAML: ${(e as Error).message}`, [{ field: 'body', message: (e as Error).message }]);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Collects service -> rule list from a ServiceComb Mesher router.yaml document, in any of its forms:
 * `routeRule: {svc: [...]}`, `servicecomb.routeRule.svc: "<yaml string>"`, or
 * `servicecomb: {routeRule: {svc: ...}}`.
 */
export function routeRulesFromDocument(doc: unknown): Map<string, unknown[]> {
  if (!isObj(doc)) throw new AdminError('INVALID', 'router.yaml must be a mapping with routeRule', [{ field: 'routeRule', message: 'routeRule is missing' }]);
  const out = new Map<string, unknown[]>();
  const add = (service: string, value: unknown, field: string) => {
    const list = typeof value === 'string' ? parseYamlBody(value) : value;
    if (!Array.isArray(list)) throw new AdminError('INVALID', `${field} must be a list of rules`, [{ field, message: `${field} must be a list of rules` }]);
    out.set(service, list);
  };
  const addMap = (map: unknown, field: string) => {
    if (!isObj(map)) throw new AdminError('INVALID', `${field} must map service names to rule lists`, [{ field, message: `${field} must be a mapping` }]);
    for (const [svc, v] of Object.entries(map)) add(svc, v, `${field}.${svc}`);
  };
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'routeRule') addMap(value, 'routeRule');
    else if (key.startsWith('servicecomb.routeRule.')) add(key.slice('servicecomb.routeRule.'.length), value, key);
    else if (key === 'servicecomb' && isObj(value) && value.routeRule !== undefined) addMap(value.routeRule, 'servicecomb.routeRule');
    else throw new AdminError('INVALID', `unknown key '${key}' in router.yaml`, [{ field: key, message: `${key} is not a known field` }]);
  }
  if (out.size === 0) throw new AdminError('INVALID', 'router.yaml holds no routeRule', [{ field: 'routeRule', message: 'routeRule is missing' }]);
  return out;
}

/** Rules as ServiceComb Mesher writes them (no ids, no destination: the key names it). */
export function rulesToYaml(rules: RouteRuleRecord[]): string {
  return stringify(
    rules.map((r) => ({
      precedence: r.precedence,
      ...(r.match ? { match: r.match } : {}),
      route: r.route.map((t) => ({ tags: t.tags, weight: t.weight })),
      ...(r.policy ? { policy: r.policy } : {}),
    })),
  );
}
