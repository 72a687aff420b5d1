import { yaml } from '../yaml-lazy';

/**
 * Deeply nested bodies reach recursive code (class-transformer, the YAML parser and its toJS) and overflow the
 * stack: a RangeError at best, and near the stack limit V8 can abort the whole process (seen: a fatal
 * "RegExpCompiler Allocation failed" from a 1,500-deep YAML flow mapping). Real admin documents nest fewer than
 * ten levels, so bodies are checked here, without recursion, before any of that code sees them.
 */
export const MAX_BODY_DEPTH = 32;
/** YAML text: indentation and flow brackets both count, so pretty-printed JSON sent as YAML counts about twice. */
export const MAX_YAML_TEXT_DEPTH = 64;
/** Each alias can add a level (an alias of an anchor that holds an alias...), and aliases multiply nodes. */
export const MAX_YAML_ALIASES = 100;

/** True when arrays/objects nest deeper than `limit` (a scalar is depth 0). */
export function depthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

/**
 * An upper bound of the nesting of a YAML (or JSON) text, and its number of aliases, from the tokens of yaml's
 * lexer (a state machine: no recursion, and it reads quotes exactly as the parser will): indentation levels,
 * `- `/`? ` markers that open a line, and flow brackets. Stops at the first problem; returns it, or null.
 */
export function yamlTextProblem(text: string, maxDepth = MAX_YAML_TEXT_DEPTH, maxAliases = MAX_YAML_ALIASES): string | null {
  const indents: number[] = [];
  let block = 0;
  let flow = 0;
  let aliases = 0;
  let lineStart = true;
  let indent = 0;
  let markers = 0;
  const { CST, Lexer } = yaml();
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === 'newline') {
      lineStart = true;
      indent = 0;
      markers = 0;
      continue;
    }
    if (lineStart) {
      if (type === 'space') {
        if (markers === 0) indent = token.length; // the space after a `- ` marker is not indentation
        continue;
      }
      if (type === 'seq-item-ind' || type === 'explicit-key-ind') {
        markers++;
        continue;
      }
      if (type === 'comment' || type === 'doc-mode' || type === 'byte-order-mark') continue;
      lineStart = false;
      while (indents.length > 0 && indents[indents.length - 1] >= indent) indents.pop();
      indents.push(indent);
      block = indents.length + markers;
    }
    if (type === 'flow-seq-start' || type === 'flow-map-start') flow++;
    else if (type === 'flow-seq-end' || type === 'flow-map-end') flow = Math.max(0, flow - 1);
    else if (type === 'alias' && ++aliases > maxAliases) return `body uses more than ${maxAliases} YAML aliases`;
    if (block + flow > maxDepth) return `body nests deeper than ${maxDepth} levels`;
  }
  return null;
}

/** What is wrong with a parsed body's shape (an object from JSON, or YAML text), or null. */
export function bodyShapeProblem(body: unknown): string | null {
  if (typeof body === 'string') return yamlTextProblem(body);
  return depthExceeds(body, MAX_BODY_DEPTH) ? `body nests deeper than ${MAX_BODY_DEPTH} levels` : null;
}
