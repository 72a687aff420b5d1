import type { FieldError, RouteTarget } from '@mesher/contracts';
import { compileHeaderMatch, validatePolicySpec } from '@mesher/policies';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], prefix: string, out: FieldError[]) {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) out.push({ field: `${prefix}${k}`, message: `${prefix}${k} is not a known field` });
  }
}

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT'];

/** Validates an untrusted `match` block. */
export function validateRouteMatch(match: unknown, prefix: string, out: FieldError[]): void {
  if (match === undefined || match === null) return;
  if (!isObj(match)) {
    out.push({ field: prefix.slice(0, -1), message: `${prefix.slice(0, -1)} must be an object` });
    return;
  }
  unknownKeys(match, ['source', 'headers', 'pathPrefix', 'methods'], prefix, out);
  if (match.source !== undefined && (typeof match.source !== 'string' || match.source === '')) {
    out.push({ field: `${prefix}source`, message: `${prefix}source must be a non-empty string` });
  }
  if (match.pathPrefix !== undefined && (typeof match.pathPrefix !== 'string' || !match.pathPrefix.startsWith('/'))) {
    out.push({ field: `${prefix}pathPrefix`, message: `${prefix}pathPrefix must be a string starting with '/'` });
  }
  if (match.methods !== undefined) {
    if (!Array.isArray(match.methods)) {
      out.push({ field: `${prefix}methods`, message: `${prefix}methods must be an array of HTTP methods` });
    } else {
      match.methods.forEach((m, i) => {
        if (typeof m !== 'string' || !HTTP_METHODS.includes(m.toUpperCase())) {
          out.push({ field: `${prefix}methods[${i}]`, message: `${prefix}methods[${i}] must be one of ${HTTP_METHODS.join(', ')}` });
        }
      });
    }
  }
  if (match.headers !== undefined) {
    if (!isObj(match.headers)) {
      out.push({ field: `${prefix}headers`, message: `${prefix}headers must be an object of header name to match` });
      return;
    }
    for (const [name, hm] of Object.entries(match.headers)) {
      const f = `${prefix}headers.${name}`;
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) out.push({ field: f, message: `${f}: '${name}' is not a valid header name` });
      if (!isObj(hm)) {
        out.push({ field: f, message: `${f} must be an object with exact, prefix or regex` });
        continue;
      }
      unknownKeys(hm, ['exact', 'prefix', 'regex', 'caseInsensitive'], `${f}.`, out);
      const kinds = ['exact', 'prefix', 'regex'].filter((k) => hm[k] !== undefined);
      if (kinds.length === 0) out.push({ field: f, message: `${f} needs one of exact, prefix or regex` });
      for (const k of kinds) {
        if (typeof hm[k] !== 'string') out.push({ field: `${f}.${k}`, message: `${f}.${k} must be a string` });
      }
      if (hm.caseInsensitive !== undefined && typeof hm.caseInsensitive !== 'boolean') {
        out.push({ field: `${f}.caseInsensitive`, message: `${f}.caseInsensitive must be a boolean` });
      }
      if (typeof hm.regex === 'string') {
        try {
          compileHeaderMatch({ regex: hm.regex });
        } catch {
          out.push({ field: `${f}.regex`, message: `${f}.regex does not compile: ${hm.regex}` });
        }
      }
    }
  }
}

/** Validates an untrusted `route` list: subsets with tags and weights 0-100 that sum to 100. */
export function validateRouteTargets(route: unknown, out: FieldError[]): void {
  if (!Array.isArray(route) || route.length === 0) {
    out.push({ field: 'route', message: 'route must be a non-empty array of {tags, weight}' });
    return;
  }
  let sum = 0;
  let weightsOk = true;
  route.forEach((t: unknown, i) => {
    const f = `route[${i}]`;
    if (!isObj(t)) {
      out.push({ field: f, message: `${f} must be an object {tags, weight}` });
      weightsOk = false;
      return;
    }
    unknownKeys(t, ['tags', 'weight'], `${f}.`, out);
    if (!isObj(t.tags) || Object.values(t.tags).some((v) => typeof v !== 'string')) {
      out.push({ field: `${f}.tags`, message: `${f}.tags must be an object of string values, e.g. {"version":"1.0.0"}` });
    }
    const w = (t as Partial<RouteTarget>).weight;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 100) {
      out.push({ field: `${f}.weight`, message: `${f}.weight must be an integer from 0 to 100` });
      weightsOk = false;
    } else sum += w;
  });
  if (weightsOk && sum !== 100) out.push({ field: 'route', message: `route weights must sum to 100 (got ${sum})` });
}

/** Validates an untrusted route rule body ({service, precedence, match, route, policy}). */
export function validateRouteRule(input: unknown): FieldError[] {
  const out: FieldError[] = [];
  if (!isObj(input)) return [{ field: 'rule', message: 'a route rule must be a JSON object' }];
  unknownKeys(input, ['service', 'precedence', 'match', 'route', 'policy'], '', out);
  if (typeof input.service !== 'string' || input.service === '') out.push({ field: 'service', message: 'service (the destination) must be a non-empty string' });
  if (input.precedence !== undefined && (!Number.isInteger(input.precedence) || (input.precedence as number) < 0 || (input.precedence as number) > 1_000_000)) {
    out.push({ field: 'precedence', message: 'precedence must be an integer from 0 to 1000000' });
  }
  validateRouteMatch(input.match, 'match.', out);
  validateRouteTargets(input.route, out);
  if (input.policy !== undefined && input.policy !== null) {
    for (const e of validatePolicySpec(input.policy)) out.push({ field: `policy.${e.field}`, message: `policy.${e.message}` });
  }
  return out;
}
