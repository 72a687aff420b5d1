import fc from 'fast-check';

/**
 * fast-check arbitraries for admin API bodies: values that are invalid for one field (to check that the
 * API refuses them naming that field) and hostile request texts (to check that nothing a client sends
 * gets a 5xx). Seeded by the caller, so a failure is reproducible from the seed and path fast-check prints.
 */

export type Path = ReadonlyArray<string | number>;

/** The field name the API reports for a path: `a.b[0].c`, with an optional prefix such as `routeRule.cart[0].`. */
export function fieldOf(path: Path, prefix = ''): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' || out.endsWith('.') ? p : `.${p}`;
  }
  return out.replace(/\.$/, '');
}

/** A deep copy of `doc` with the value at `path` set (intermediate objects created) or deleted. */
export function withValue(doc: unknown, path: Path, value: unknown, del = false): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let node = copy;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    if (typeof node[k] !== 'object' || node[k] === null || !Object.hasOwn(node, k)) node[k] = typeof path[i + 1] === 'number' ? [] : {};
    node = node[k] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (del) delete node[last];
  // An own property even for `__proto__` (an assignment would set the prototype and vanish from the JSON).
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** A JSON value of any kind (finite numbers only: JSON.stringify turns NaN and Infinity into null). */
const number = fc.double({ noNaN: true, noDefaultInfinity: true });
const smallJson = fc.jsonValue({ maxDepth: 2 });
const array = fc.array(smallJson, { maxLength: 3 });
const object = fc.dictionary(fc.string({ maxLength: 8 }), smallJson, { maxKeys: 3 });

/** Anything but a string (and but null unless `withNull`: an optional field may be null). */
export function notString(withNull = false): fc.Arbitrary<unknown> {
  const base = [fc.integer(), number, fc.boolean(), array, object];
  return withNull ? fc.oneof(...base, fc.constant(null)) : fc.oneof(...base);
}

/** Anything but a number. */
export function notNumber(withNull = false): fc.Arbitrary<unknown> {
  const base = [fc.string({ maxLength: 10 }), fc.constantFrom('1', '0', '1e3', 'NaN', 'Infinity', ''), fc.boolean(), array, object];
  return withNull ? fc.oneof(...base, fc.constant(null)) : fc.oneof(...base);
}

/** Not an integer in [lo, hi] (hi may be Infinity). */
export function badInt(lo: number, hi: number, withNull = false): fc.Arbitrary<unknown> {
  const out: Array<fc.Arbitrary<unknown>> = [
    fc.integer({ min: -2_147_483_648, max: lo - 1 }),
    fc.constant(-1e300),
    number.filter((x) => !Number.isInteger(x)),
    notNumber(withNull),
  ];
  if (Number.isFinite(hi)) out.push(fc.integer({ min: hi + 1, max: Math.max(hi + 1, 2_147_483_647) }), fc.constantFrom(1e300, 9_007_199_254_740_993));
  return fc.oneof(...out);
}

/** Not a finite number in [lo, hi] (either bound may be open: undefined). */
export function badNumber(lo: number | undefined, hi: number | undefined, opts: { exclusiveLo?: boolean; withNull?: boolean } = {}): fc.Arbitrary<unknown> {
  const out: Array<fc.Arbitrary<unknown>> = [notNumber(opts.withNull)];
  if (lo !== undefined) out.push(number.filter((x) => (opts.exclusiveLo ? x <= lo : x < lo)), fc.constant(opts.exclusiveLo ? lo : lo - 1));
  if (hi !== undefined) out.push(number.filter((x) => x > hi), fc.constant(hi + 1));
  return fc.oneof(...out);
}

/** Not a string of at most `max` characters. */
export function badString(max: number, withNull = false): fc.Arbitrary<unknown> {
  return fc.oneof(notString(withNull), fc.string({ minLength: max + 1, maxLength: max + 40 }));
}

/** Not a string matching `re` (or passing `ok`): other strings (ASCII and any code units) and other types. */
export function badPattern(re: RegExp | ((s: string) => boolean), withNull = false): fc.Arbitrary<unknown> {
  const miss = (s: string) => !(typeof re === 'function' ? re(s) : re.test(s));
  return fc.oneof(
    notString(withNull),
    fc.string({ maxLength: 40 }).filter(miss),
    fc.string({ maxLength: 20, unit: 'binary' }).filter(miss),
    fc.constantFrom('', ' ', 'UPPER', 'a b', 'a/b', '../x', 'x\u0000', 'é', '-a', 'a'.repeat(300)).filter(miss),
  );
}

/** A string that is not one of `values`, or not a string. */
export function badEnum(values: readonly string[], withNull = false): fc.Arbitrary<unknown> {
  return fc.oneof(notString(withNull), fc.string({ maxLength: 12 }).filter((s) => !values.includes(s)), fc.constantFrom(...values.map((v) => v.toLowerCase() + 'x')));
}

/** Not an object of string values (labels, tags). `stringlike` leaves out numbers and booleans (YAML import stringifies those). */
export function badStringMap(withNull = false, stringlike = false): fc.Arbitrary<unknown> {
  const nonString = stringlike ? fc.oneof(array, object, fc.constant(null)) : fc.oneof(fc.integer(), fc.boolean(), array, object, fc.constant(null));
  return fc.oneof(
    withNull ? fc.oneof(fc.string(), fc.integer(), array, fc.constant(null)) : fc.oneof(fc.string(), fc.integer(), array),
    fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), nonString, { minKeys: 1, maxKeys: 3 }),
  );
}

export function badBool(withNull = false): fc.Arbitrary<unknown> {
  return fc.oneof(fc.integer(), fc.constantFrom('true', 'false', 'yes', ''), array, object, ...(withNull ? [fc.constant(null)] : []));
}

/** Strings that are not valid regular expressions, or not strings. */
export function badRegex(): fc.Arbitrary<unknown> {
  const broken = (s: string) => {
    try {
      new RegExp(s);
      return false;
    } catch {
      return true;
    }
  };
  return fc.oneof(
    fc.constantFrom('(', '[', '*', '+a', 'a{2,1}', '(?<', '\\', '(?P<x>a)', '[z-a]', '(a'),
    fc.string({ maxLength: 12 }).filter(broken),
    notString(),
  );
}

/** A value that is not a list, or a list with one bad item. */
export function badList(item?: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const notList = fc.oneof(fc.string(), fc.integer(), fc.boolean(), object);
  return item ? fc.oneof(notList, item.map((x) => [x])) : notList;
}

/** An endpoint that is not an absolute http(s) base URL. */
export function badEndpoint(withNull = false): fc.Arbitrary<unknown> {
  return fc.oneof(
    notString(withNull),
    fc.string({ maxLength: 30 }).filter((s) => !/^https?:\/\//i.test(s)),
    fc.tuple(fc.constantFrom('ftp', 'ws', 'file', 'javascript', 'gopher'), fc.domain()).map(([s, d]) => `${s}://${d}/`),
    fc.domain().chain((d) => fc.constantFrom(`http://${d}/?q=1`, `http://${d}/#f`, `http://user:pw@${d}/`, `http://`, `http://[::1`, d)),
  );
}

/** A key that is none of `known`: identifiers, and the names every object inherits (a validator asking `k in fields` misses those). */
export function unknownKey(known: readonly string[]): fc.Arbitrary<string> {
  return fc
    .oneof({ weight: 4, arbitrary: fc.stringMatching(/^[a-zA-Z_$][a-zA-Z0-9_$-]{0,15}$/) }, { weight: 1, arbitrary: fc.constantFrom('constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__') })
    .filter((k) => !known.includes(k));
}

// -------------------------------------------------------------------------------------------------
// Hostile request texts: anything a client might send, valid-looking or not.

/** Texts that are not JSON at all, or YAML with tricks (aliases, tags, merge keys, several documents). */
export const BROKEN_TEXTS = [
  '',
  '{',
  '{"name":}',
  '{"name":"a",}',
  "{'name':'a'}",
  'NaN',
  '{"n": NaN}',
  '{"n": Infinity}',
  '[1,2',
  '\u0000',
  '\ufeff{"name":"bom"}',
  'a: &a [1]\nb: *a\n',
  // Billion laughs: aliases of aliases.
  'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n',
  'x: !!js/function "function(){return 1}"\n',
  'x: !!binary AAAA\n',
  '<<: {a: 1}\n',
  '--- a\n--- b\n',
  '? [1, 2]\n: x\n',
  'key: "unterminated\n',
  '\t- tab indented',
];

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
/** Odd number literals, as text: valid JSON that parses to something surprising. */
const NUMBER_TEXTS = ['-0', '1e309', '-1e309', '1e-400', '9007199254740993', '123456789012345678901234567890', '0.1e1', '1E2', '4294967296'];

/** JSON text for any value, with odd numbers, prototype keys and duplicate keys (written as text, so they reach the server as sent). */
function jsonText(fields: readonly string[], depth: number): fc.Arbitrary<string> {
  const leaf = fc.oneof(
    fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)),
    fc.constantFrom(...NUMBER_TEXTS),
    fc.string({ unit: 'binary', maxLength: 30 }).map((s) => JSON.stringify(s)),
    fc.constantFrom('x'.repeat(5000), 'y'.repeat(100_000), '\r\nx-injected: 1', '../../../etc/passwd', '(a+)+$').map((s) => JSON.stringify(s)),
  );
  if (depth <= 0) return leaf;
  const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...fields) }, { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS, '', 'k'.repeat(300)) }).map((k) => JSON.stringify(k));
  const child = jsonText(fields, depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(child, { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`) },
    {
      weight: 2,
      // A repeated key: JSON.parse keeps the last one; a validator that looked at the first would be fooled.
      arbitrary: fc
        .array(fc.tuple(key, child), { maxLength: 5 })
        .chain((entries) => fc.boolean().map((dup) => (dup && entries.length > 0 ? [...entries, entries[0]] : entries)))
        .map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`),
    },
  );
}

/** `template` with one value (anywhere in it) replaced by a hostile one, as JSON text. */
function mutatedText(template: unknown, fields: readonly string[]): fc.Arbitrary<string> {
  const paths: Path[] = [];
  const walk = (v: unknown, p: Path) => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(template, []);
  const HOLE = 'mesher-hole-7f3a9c';
  return fc.tuple(fc.constantFrom(...paths.filter((p) => p.length > 0)), jsonText(fields, 2)).map(([p, text]) => JSON.stringify(withValue(template, p, HOLE)).replace(JSON.stringify(HOLE), () => text));
}

/** Any hostile body for a write route: broken texts, deep nesting, random JSON, or a valid template with one value gone bad. */
export function hostileBody(fields: readonly string[], template?: unknown): fc.Arbitrary<string> {
  const options: Array<fc.WeightedArbitrary<string>> = [
    { weight: 1, arbitrary: fc.constantFrom(...BROKEN_TEXTS) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    // Deep nesting: recursion limits in parsers and validators.
    { weight: 1, arbitrary: fc.integer({ min: 20, max: 3000 }).chain((n) => fc.constantFrom(`${'['.repeat(n)}${']'.repeat(n)}`, `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)) },
    { weight: 3, arbitrary: jsonText(fields, 3) },
  ];
  if (template !== undefined) options.push({ weight: 5, arbitrary: mutatedText(template, fields) });
  return fc.oneof(...options);
}
