/**
 * A small seeded generator of hostile request bodies, standing in for fast-check (not installed here): wrong
 * types, huge and odd strings, deep nesting, prototype-pollution keys, duplicate keys, numbers JSON.parse turns
 * into Infinity or loses, and broken JSON. Bodies are built as text, so keys like `__proto__` and duplicate
 * keys reach the server exactly as written. Same seed, same sequence: a failure names its seed and index.
 */

/** mulberry32: tiny, fast, good enough to spread cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Hostile {
  private readonly rnd: () => number;

  constructor(seed: number) {
    this.rnd = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  chance(p: number): boolean {
    return this.rnd() < p;
  }

  /** Number literals as text: some are valid JSON that parse to something odd, some are not JSON at all. */
  number(): string {
    return this.pick(['0', '-0', '1', '-1', '1.5', '1e309', '-1e309', '1e-400', '9007199254740993', '123456789012345678901234567890', '2147483648', '-2147483649', '0.1e1', '65536', '4294967296', '1E2']);
  }

  string(): string {
    const s = this.pick([
      '',
      ' ',
      'NaN',
      'Infinity',
      '1e309',
      '-1',
      'true',
      'null',
      'UP',
      '__proto__',
      'constructor',
      '../../../etc/passwd',
      '..\\..\\windows',
      '\u0000',
      'a\u0000b',
      '\r\nx-injected: 1',
      '\u202eevil',
      '\ud800',
      '\udfff\ud800',
      '😀'.repeat(50),
      'é'.repeat(300),
      "'; DROP TABLE service; --",
      '<script>alert(1)</script>',
      '${jndi:ldap://127.0.0.1/x}',
      '%00%2e%2e%2f',
      'http://',
      'http://127.0.0.1:0',
      'http://[::1',
      'ftp://127.0.0.1/',
      'javascript:alert(1)',
      '(a+)+$',
      '[',
      '*',
      'a'.repeat(64),
      'a'.repeat(256),
      'x'.repeat(5000),
      'y'.repeat(100_000),
    ]);
    return JSON.stringify(s);
  }

  key(fields: readonly string[]): string {
    return JSON.stringify(
      this.chance(0.6)
        ? this.pick(fields)
        : this.pick(['__proto__', 'constructor', 'prototype', '', ' ', 'a.b', '$where', 'toString', 'hasOwnProperty', 'valueOf', '\u0000', 'k'.repeat(300)]),
    );
  }

  /** Any JSON-ish value as text; `fields` are the names the endpoint knows, used as keys more often than not. */
  value(fields: readonly string[], depth = 0): string {
    const roll = this.int(depth > 3 ? 4 : 9);
    switch (roll) {
      case 0:
        return this.pick(['null', 'true', 'false']);
      case 1:
        return this.number();
      case 2:
      case 3:
        return this.string();
      case 4:
        return `[${Array.from({ length: this.int(4) }, () => this.value(fields, depth + 1)).join(',')}]`;
      case 5:
        // Deep nesting: recursion limits in parsers and validators.
        return this.chance(0.5) ? `${'['.repeat(3000)}${']'.repeat(3000)}` : `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`;
      default: {
        const n = this.int(6);
        const entries = Array.from({ length: n }, () => `${this.key(fields)}:${this.value(fields, depth + 1)}`);
        // Duplicate keys: the last one wins in JSON.parse; a validator that looked at the first would be fooled.
        if (this.chance(0.2) && fields.length) entries.push(`${JSON.stringify(this.pick(fields))}:${this.value(fields, depth + 1)}`);
        return `{${entries.join(',')}}`;
      }
    }
  }

  /** A valid template with one field (possibly nested) replaced by something hostile. */
  mutate(template: unknown, fields: readonly string[]): string {
    const walk = (v: unknown, depth: number): string => {
      if (Array.isArray(v)) {
        const target = v.length ? this.int(v.length) : -1;
        return `[${v.map((x, i) => (i === target ? walk(x, depth + 1) : JSON.stringify(x))).join(',')}]`;
      }
      if (v !== null && typeof v === 'object') {
        const keys = Object.keys(v);
        if (keys.length === 0 || this.chance(0.25)) {
          const extra = `${this.key(fields)}:${this.value(fields, depth + 1)}`;
          const rest = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify((v as Record<string, unknown>)[k])}`);
          return `{${[...rest, extra].join(',')}}`;
        }
        const target = this.pick(keys);
        return `{${keys
          .map((k) => `${JSON.stringify(k)}:${k === target ? walk((v as Record<string, unknown>)[k], depth + 1) : JSON.stringify((v as Record<string, unknown>)[k])}`)
          .join(',')}}`;
      }
      // A leaf: replace it.
      return this.value(fields, depth + 3);
    };
    return walk(template, 0);
  }

  /** Text that is not JSON at all, or YAML with tricks. */
  broken(): string {
    return this.pick([
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
    ]);
  }
}
