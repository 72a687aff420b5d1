import { BadRequestException } from '@nestjs/common';
import { AdminError, type FieldError, type HeaderMatch, type RouteMatch, type RouteRuleRecord } from '@mesher/contracts';
import { compileHeaderMatch } from '@mesher/policies';
import type { Pair } from 'yaml';
import { yaml } from '../yaml-lazy';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys whose map values go-chassis reads as map[string]string: `version: 2.0` means the string "2.0". */
const STRING_MAPS = new Set(['tags', 'sourceTags']);
const HEADER_MAPS = new Set(['headers', 'httpHeaders']);

/** Replaces non-string scalar values of a YAML map by their source text (2.0 stays "2.0", not 2). */
function keepSourceText(map: unknown, except: ReadonlySet<string> = new Set()): void {
  const { isMap, isScalar } = yaml();
  if (!isMap(map)) return;
  for (const item of map.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '';
    const v = item.value;
    if (except.has(key) || !isScalar(v) || v.value === null || typeof v.value === 'string') continue;
    v.value = v.source ?? String(v.value);
  }
}

/**
 * Parses a YAML body (or passes an already parsed JSON body through). A syntax error is malformed
 * input: 400, naming the line. Values go-chassis reads as strings (tags, header match values) keep
 * their source text, so a real router.yaml with `version: 1.0` selects instances of version "1.0".
 */
export function parseYamlBody(body: unknown, field = 'body'): unknown {
  if (typeof body !== 'string') return body;
  const { isMap, isScalar, parseDocument, visit } = yaml();
  const doc = parseDocument(body);
  if (doc.errors.length > 0) {
    const message = `${field} is not valid YAML: ${doc.errors[0].message}`;
    throw new BadRequestException({ message, errors: [{ field, message }] });
  }
  visit(doc, {
    Pair(_, pair: Pair) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (STRING_MAPS.has(key)) keepSourceText(pair.value);
      else if (HEADER_MAPS.has(key) && isMap(pair.value)) {
        for (const h of pair.value.items) keepSourceText(h.value, new Set(['caseInsensitive']));
      }
    },
  });
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // e.g. aliases that expand exponentially ("billion laughs"): refused by yaml, and a 400 here, not a 500.
    const message = `${field} is not acceptable YAML: ${(e as Error).message}`;
    throw new BadRequestException({ message, errors: [{ field, message }] });
  }
}

// go-chassis matches `regex` anywhere in the value (Go's Match); Mesher's header regex is anchored
// (the whole value must match). The compat endpoints translate in both directions so a rule means
// the same thing on either side and a GET -> PUT round trip is stable. A pattern anchored at both
// ends with no top-level `|` means the same in both and is kept as written.
const SEARCH_OPEN = '.*(?:';
const SEARCH_CLOSE = ').*';

/** Walks a pattern outside escapes and character classes, calling `at` with the group depth. */
function scan(re: string, from: number, to: number, at: (c: string, i: number, depth: number) => boolean | void): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = from; i < to; i++) {
    const c = re[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    if (at(c, i, depth) === false) return false;
  }
  return !inClass;
}

function fullyAnchored(re: string): boolean {
  if (re.length < 2 || re[0] !== '^' || re[re.length - 1] !== '$') return false;
  let slashes = 0;
  for (let i = re.length - 2; i >= 0 && re[i] === '\\'; i--) slashes++;
  if (slashes % 2 === 1) return false; // an escaped \$ is a literal dollar
  return scan(re, 0, re.length - 1, (c, _i, depth) => !(c === '|' && depth === 0));
}

/** X when `re` is `.*(?:X).*` with the group spanning the whole middle. */
function unwrapSearch(re: string): string | null {
  if (re.length < SEARCH_OPEN.length + SEARCH_CLOSE.length || !re.startsWith(SEARCH_OPEN) || !re.endsWith(SEARCH_CLOSE)) return null;
  const end = re.length - SEARCH_CLOSE.length;
  // The group must not close before the end (depth below 0): `.*(?:a)|(?:b).*` is not one group.
  return scan(re, SEARCH_OPEN.length, end, (_c, _i, depth) => depth >= 0) ? re.slice(SEARCH_OPEN.length, end) : null;
}

export function chassisRegexToNative(re: string): string {
  return fullyAnchored(re) ? re : `${SEARCH_OPEN}${re}${SEARCH_CLOSE}`;
}

export function nativeRegexToChassis(re: string): string {
  if (fullyAnchored(re)) return re;
  return unwrapSearch(re) ?? `^(?:${re})$`;
}

function compiles(re: string): boolean {
  try {
    compileHeaderMatch({ regex: re });
    return true;
  } catch {
    return false;
  }
}

/** go-chassis header operators Mesher has no equivalent for: refused by name rather than dropped. */
const UNSUPPORTED_OPS = ['noEqu', 'less', 'noLess', 'greater', 'noGreater'];

function headersToNative(headers: Record<string, unknown>, field: string, errors: FieldError[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, ops] of Object.entries(headers)) {
    if (!isObj(ops)) {
      out[name] = ops; // validation names it
      continue;
    }
    const m: Record<string, unknown> = {};
    for (const [op, v] of Object.entries(ops)) {
      const f = `${field}.${name}.${op}`;
      if (UNSUPPORTED_OPS.includes(op)) {
        errors.push({ field: f, message: `${f}: the go-chassis operator '${op}' is not supported (use exact, prefix or regex)` });
      } else if (op === 'caseInsensitive') {
        m[op] = v === 'true' ? true : v === 'false' ? false : v;
      } else if (op === 'regex' && typeof v === 'string') {
        // Checked as written, so an error shows the user's pattern, not its translation.
        if (compiles(v)) m[op] = chassisRegexToNative(v);
        else errors.push({ field: f, message: `${f} does not compile: ${v}` });
      } else {
        m[op] = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
      }
    }
    out[name] = m;
  }
  return out;
}

function matchToNative(match: Record<string, unknown>, templates: Map<string, unknown>, field: string, errors: FieldError[]): unknown {
  let m = match;
  if (m.refer !== undefined) {
    const t = typeof m.refer === 'string' ? templates.get(m.refer) : undefined;
    if (!isObj(t)) {
      errors.push({ field: `${field}.refer`, message: `${field}.refer: no sourceTemplate named '${String(m.refer)}'` });
      return null;
    }
    // As in go-chassis, a referenced template replaces the rest of the match block.
    m = t;
  }
  const { refer: _refer, sourceTags, httpHeaders, headers, ...rest } = m;
  if (isObj(sourceTags) && Object.keys(sourceTags).length > 0) {
    errors.push({
      field: `${field}.sourceTags`,
      message: `${field}.sourceTags is not supported: Mesher knows a caller by its service name only (use source)`,
    });
  }
  const out: Record<string, unknown> = { ...rest };
  if (headers !== undefined || httpHeaders !== undefined) {
    if ((headers !== undefined && !isObj(headers)) || (httpHeaders !== undefined && !isObj(httpHeaders))) {
      out.headers = headers ?? httpHeaders; // validation names it
    } else {
      out.headers = headersToNative({ ...(headers as object), ...(httpHeaders as object) }, `${field}.headers`, errors);
    }
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** One go-chassis rule in Mesher's shape; anything it cannot translate is left for validation to name. */
export function chassisRuleToNative(rule: unknown, templates: Map<string, unknown>, field: string, errors: FieldError[]): unknown {
  if (!isObj(rule)) return rule;
  const out: Record<string, unknown> = { ...rule };
  if (isObj(rule.match)) out.match = matchToNative(rule.match, templates, `${field}.match`, errors);
  if (Array.isArray(rule.route)) {
    out.route = rule.route.map((t: unknown) => {
      if (!isObj(t) || !isObj(t.tags)) return t;
      const tags = Object.fromEntries(Object.entries(t.tags).map(([k, v]) => [k, typeof v === 'number' || typeof v === 'boolean' ? String(v) : v]));
      return { ...t, tags };
    });
  }
  return out;
}

/**
 * Host names are case-insensitive and Mesher's service names lower-case, so go-chassis keys such as
 * `ShoppingCart` name the service `shoppingcart`.
 */
export function serviceKey(name: string): string {
  return name.toLowerCase();
}

/** Translates service -> go-chassis rule lists, all or nothing: every problem is reported at once. */
export function chassisRulesToNative(rules: Map<string, unknown[]>, templates: Map<string, unknown> = new Map()): Map<string, unknown[]> {
  const errors: FieldError[] = [];
  const out = new Map<string, unknown[]>();
  for (const [svc, list] of rules) {
    out.set(svc, list.map((r, i) => chassisRuleToNative(r, templates, `routeRule.${svc}[${i}]`, errors)));
  }
  if (errors.length > 0) throw new AdminError('INVALID', errors.map((e) => e.message).join('; '), errors);
  return out;
}

/**
 * Collects service -> rule list from a ServiceComb Mesher / go-chassis router.yaml document, in any of
 * its forms: `routeRule: {svc: [...]}` (with `sourceTemplate` for `match.refer`),
 * `servicecomb.routeRule.svc: "<yaml string>"`, or `servicecomb: {routeRule: {svc: ...}}`. The
 * `router` block (where go-chassis reads rules from) has no meaning here and is ignored.
 */
export function routeRulesFromDocument(doc: unknown): Map<string, unknown[]> {
  if (!isObj(doc)) throw new AdminError('INVALID', 'router.yaml must be a mapping with routeRule', [{ field: 'routeRule', message: 'routeRule is missing' }]);
  const rules = new Map<string, unknown[]>();
  const templates = new Map<string, unknown>();
  const errors: FieldError[] = [];
  const addRules = (service: string, value: unknown, field: string) => {
    const list = typeof value === 'string' ? parseYamlBody(value, field) : value;
    const key = serviceKey(service);
    if (!Array.isArray(list)) errors.push({ field, message: `${field} must be a list of rules` });
    else if (rules.has(key)) errors.push({ field, message: `${field}: rules for '${key}' are given twice` });
    else rules.set(key, list);
  };
  const addTemplate = (name: string, value: unknown, field: string) => {
    const t = typeof value === 'string' ? parseYamlBody(value, field) : value;
    if (!isObj(t)) errors.push({ field, message: `${field} must be a match block` });
    else templates.set(name, t);
  };
  const eachOf = (map: unknown, field: string, add: (name: string, value: unknown, field: string) => void) => {
    if (!isObj(map)) errors.push({ field, message: `${field} must be a mapping` });
    else for (const [k, v] of Object.entries(map)) add(k, v, `${field}.${k}`);
  };
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'routeRule') eachOf(value, 'routeRule', addRules);
    else if (key === 'sourceTemplate') eachOf(value, 'sourceTemplate', addTemplate);
    else if (key.startsWith('servicecomb.routeRule.')) addRules(key.slice('servicecomb.routeRule.'.length), value, key);
    else if (key.startsWith('servicecomb.sourceTemplate.')) addTemplate(key.slice('servicecomb.sourceTemplate.'.length), value, key);
    else if (key === 'servicecomb' && isObj(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'routeRule') eachOf(v, 'servicecomb.routeRule', addRules);
        else if (k === 'sourceTemplate') eachOf(v, 'servicecomb.sourceTemplate', addTemplate);
        else errors.push({ field: `servicecomb.${k}`, message: `servicecomb.${k} is not a known field (expected routeRule or sourceTemplate)` });
      }
    } else if (key !== 'router') errors.push({ field: key, message: `${key} is not a known field in router.yaml` });
  }
  if (errors.length === 0 && rules.size === 0) errors.push({ field: 'routeRule', message: 'router.yaml holds no routeRule' });
  if (errors.length > 0) throw new AdminError('INVALID', errors.map((e) => e.message).join('; '), errors);
  return chassisRulesToNative(rules, templates);
}

function headersToChassis(headers: Record<string, HeaderMatch>): Record<string, HeaderMatch> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, m]) => [k, m.regex === undefined ? m : { ...m, regex: nativeRegexToChassis(m.regex) }]),
  );
}

function matchToChassis(m: RouteMatch): RouteMatch {
  return m.headers ? { ...m, headers: headersToChassis(m.headers) } : m;
}

/** Rules as ServiceComb Mesher writes them (no ids, no destination: the key names it). */
export function rulesToYaml(rules: RouteRuleRecord[]): string {
  return yaml().stringify(
    rules.map((r) => ({
      precedence: r.precedence,
      ...(r.match ? { match: matchToChassis(r.match) } : {}),
      route: r.route.map((t) => ({ tags: t.tags, weight: t.weight })),
      ...(r.policy ? { policy: r.policy } : {}),
    })),
  );
}
