import type { FastifyBodyParser, FastifyInstance } from 'fastify';

type FieldError = { field: string; message: string };

/** A 400 the admin error filter answers as {statusCode, code, message, errors}. */
export class BodyParseError extends Error {
  readonly statusCode = 400;
  constructor(
    message: string,
    readonly errors: FieldError[],
  ) {
    super(message);
  }
}

/**
 * Where the first own `__proto__` key, or `constructor` object holding `prototype`, sits in a parsed body:
 * `policies.cart.__proto__`. Iterative and bounded in depth, like the body depth check.
 */
export function poisonedKey(value: unknown, maxDepth = 64): string | null {
  const stack: Array<[unknown, string, number]> = [[value, '', 0]];
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object' || depth > maxDepth) continue;
    const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x]) : Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]]);
    for (const [k, x] of entries) {
      const here = k.startsWith('[') ? `${path}${k}` : path ? `${path}.${k}` : k;
      if (k === '__proto__') return here;
      if (k === 'constructor' && typeof x === 'object' && x !== null && Object.hasOwn(x, 'prototype')) return `${here}.prototype`;
      stack.push([x, here, depth + 1]);
    }
  }
  return null;
}

/** Why Fastify's JSON parser refused a body, said as precisely as the text allows. */
export function explainRefusedJson(text: string): BodyParseError | null {
  if (text.length === 0) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const message = `body is not valid JSON: ${(e as Error).message}`;
    return new BodyParseError(message, [{ field: 'body', message }]);
  }
  // Valid JSON that secure-json-parse refused: a key that would reach an object's prototype.
  const field = poisonedKey(parsed);
  if (!field) return null;
  const message = `${field} is not allowed (a key that could change the prototype of every object)`;
  return new BodyParseError(message, [{ field, message }]);
}

/**
 * Fastify's JSON parser, still refusing `__proto__` and `constructor.prototype` keys, but with an error that
 * names the offending key or the syntax error instead of a bare "Body is not valid JSON". For Nest's
 * `useBodyParser('application/json', ...)`.
 */
export function jsonBodyParser(app: FastifyInstance): FastifyBodyParser<Buffer> {
  const secureParse = app.getDefaultJsonParser('error', 'error');
  return (req, body, done) => {
    const text = body.toString('utf8');
    void secureParse(req, text, (err: Error | null, value?: unknown) => {
      if (!err) return done(null, value);
      done(explainRefusedJson(text) ?? err, undefined);
    });
  };
}
