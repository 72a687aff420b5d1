import type { EgressRuleRecord, FieldError, IngressRuleRecord } from '@mesher/contracts';
import { validatePolicySpec } from '@mesher/policies';

/** `*.example.com` matches any sub-domain of example.com (not example.com itself); else exact. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) return host.length > pattern.length - 1 && host.endsWith(pattern.slice(1));
  return host === pattern;
}

export interface CompiledIngress {
  readonly rule: IngressRuleRecord;
  /** Returns the rewritten path when the rule matches, else null. */
  match(host: string, path: string): string | null;
}

function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/' || path === prefix) return true;
  const p = prefix.endsWith('/') ? prefix : prefix + '/';
  return path.startsWith(p) || path.startsWith(prefix + '?');
}

function joinPath(base: string, rest: string): string {
  const b = base === '' ? '/' : base;
  if (rest === '' || rest.startsWith('?')) return b + rest;
  return (b.endsWith('/') ? b.slice(0, -1) : b) + (rest.startsWith('/') ? rest : '/' + rest);
}

/** Specificity, higher first: exact host > wildcard (longer first) > any host; then longer prefix > regex > none. */
function specificity(r: IngressRuleRecord): number[] {
  const hostRank = r.host === null ? 0 : r.host.startsWith('*.') ? 1 : 2;
  const pathRank = r.pathPrefix !== null ? 2 : r.pathRegex !== null ? 1 : 0;
  return [hostRank, r.host?.length ?? 0, pathRank, r.pathPrefix?.length ?? 0];
}

function compareSpecificity(a: IngressRuleRecord, b: IngressRuleRecord): number {
  const x = specificity(a);
  const y = specificity(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return y[i] - x[i];
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Compiles ingress rules once per snapshot, most specific first (not in insertion order). */
export function compileIngress(rules: readonly IngressRuleRecord[]): CompiledIngress[] {
  return rules
    .slice()
    .sort(compareSpecificity)
    .map((rule) => {
      const host = rule.host?.toLowerCase() ?? null;
      const re = rule.pathRegex !== null ? new RegExp(rule.pathRegex) : null;
      return {
        rule,
        match(h: string, path: string): string | null {
          if (host !== null && !hostMatches(host, h)) return null;
          if (rule.pathPrefix !== null) {
            if (!prefixMatches(rule.pathPrefix, path)) return null;
            return rule.rewritePath === null ? path : joinPath(rule.rewritePath, path.slice(rule.pathPrefix === '/' ? 0 : rule.pathPrefix.length));
          }
          if (re) {
            const q = path.indexOf('?');
            const p = q >= 0 ? path.slice(0, q) : path;
            if (!re.test(p)) return null;
            if (rule.rewritePath === null) return path;
            const rewritten = p.replace(re, rule.rewritePath) || '/';
            return (rewritten.startsWith('/') ? rewritten : '/' + rewritten) + (q >= 0 ? path.slice(q) : '');
          }
          return path;
        },
      };
    });
}

/** First ingress rule (by specificity) that takes this host and path. */
export function routeIngress(rules: readonly CompiledIngress[], host: string, path: string): { rule: IngressRuleRecord; path: string } | null {
  for (const r of rules) {
    const p = r.match(host, path);
    if (p !== null) return { rule: r.rule, path: p };
  }
  return null;
}

/** Egress rule for a host and port; exact hosts win over wildcards. */
export function findEgress(rules: readonly EgressRuleRecord[], host: string, port: number): EgressRuleRecord | null {
  let best: EgressRuleRecord | null = null;
  for (const r of rules) {
    if (!hostMatches(r.host, host) || !r.ports.includes(port)) continue;
    if (!best || (best.host.startsWith('*.') && !r.host.startsWith('*.')) || (best.host.startsWith('*.') && r.host.length > best.host.length)) best = r;
  }
  return best;
}

const HOST_PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\d{1,3}(\.\d{1,3}){3}$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownKeys(o: Record<string, unknown>, allowed: string[], out: FieldError[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) out.push({ field: k, message: `${k} is not a known field` });
}

/** Validates an untrusted ingress rule body. */
export function validateIngressRule(input: unknown): FieldError[] {
  const out: FieldError[] = [];
  if (!isObj(input)) return [{ field: 'rule', message: 'an ingress rule must be a JSON object' }];
  unknownKeys(input, ['host', 'pathPrefix', 'pathRegex', 'rewritePath', 'service', 'port'], out);
  if (input.host !== undefined && input.host !== null && (typeof input.host !== 'string' || !HOST_PATTERN.test(input.host.toLowerCase()))) {
    out.push({ field: 'host', message: 'host must be a host name (api.example.com) or a wildcard (*.example.com)' });
  }
  if (input.pathPrefix !== undefined && input.pathPrefix !== null && (typeof input.pathPrefix !== 'string' || !input.pathPrefix.startsWith('/'))) {
    out.push({ field: 'pathPrefix', message: "pathPrefix must start with '/'" });
  }
  if (input.pathRegex !== undefined && input.pathRegex !== null) {
    if (typeof input.pathRegex !== 'string') out.push({ field: 'pathRegex', message: 'pathRegex must be a string' });
    else {
      try {
        new RegExp(input.pathRegex);
      } catch (e) {
        out.push({ field: 'pathRegex', message: `pathRegex does not compile: ${(e as Error).message}` });
      }
    }
  }
  if (input.pathPrefix != null && input.pathRegex != null) out.push({ field: 'pathRegex', message: 'give pathPrefix or pathRegex, not both' });
  if (input.rewritePath !== undefined && input.rewritePath !== null && (typeof input.rewritePath !== 'string' || (input.rewritePath !== '' && !input.rewritePath.startsWith('/')))) {
    out.push({ field: 'rewritePath', message: "rewritePath must be '' or start with '/'" });
  }
  if (typeof input.service !== 'string' || input.service === '') out.push({ field: 'service', message: 'service must name the destination service' });
  if (input.port !== undefined && input.port !== null && (!Number.isInteger(input.port) || (input.port as number) < 1 || (input.port as number) > 65535)) {
    out.push({ field: 'port', message: 'port must be an integer from 1 to 65535' });
  }
  return out;
}

/** Validates an untrusted egress rule body. */
export function validateEgressRule(input: unknown): FieldError[] {
  const out: FieldError[] = [];
  if (!isObj(input)) return [{ field: 'rule', message: 'an egress rule must be a JSON object' }];
  unknownKeys(input, ['host', 'ports', 'tls', 'policy'], out);
  if (typeof input.host !== 'string' || !HOST_PATTERN.test(input.host.toLowerCase())) {
    out.push({ field: 'host', message: 'host must be a host name (api.example.com) or a wildcard (*.example.com)' });
  }
  if (input.ports !== undefined) {
    if (!Array.isArray(input.ports) || input.ports.length === 0) out.push({ field: 'ports', message: 'ports must be a non-empty list of ports' });
    else
      input.ports.forEach((p, i) => {
        if (!Number.isInteger(p) || p < 1 || p > 65535) out.push({ field: `ports[${i}]`, message: `ports[${i}] must be an integer from 1 to 65535` });
      });
  }
  if (input.tls !== undefined && typeof input.tls !== 'boolean') out.push({ field: 'tls', message: 'tls must be true or false' });
  if (input.policy !== undefined && input.policy !== null) {
    for (const e of validatePolicySpec(input.policy)) out.push({ field: `policy.${e.field}`, message: `policy.${e.message}` });
  }
  return out;
}
