/**
 * W3C Trace Context (traceparent/tracestate) and Zipkin B3 propagation for the proxy.
 *
 * Mesher is one hop of the trace: it keeps the caller's trace id, opens its own span (fresh span id,
 * parent = the caller's span) and always forwards W3C; B3 only to continue a caller that used B3.
 * Randomness is injected so tests are deterministic.
 */

export interface TraceContext {
  /** 32 lowercase hex, not all zero. */
  traceId: string;
  /** 16 lowercase hex: this hop's span. */
  spanId: string;
  /** The caller's span, null when this hop starts the trace. */
  parentSpanId: string | null;
  sampled: boolean;
  /** Vendor state from the caller's `tracestate`, forwarded unchanged (only with a valid traceparent). */
  tracestate?: string;
}

/** Incoming headers as Node gives them (lower-case names). */
export type IncomingTraceHeaders = Record<string, string | string[] | undefined>;

/** Returns `n` random bytes as 2n lowercase hex characters, e.g. `(n) => randomBytes(n).toString('hex')`. */
export type RandomHex = (n: number) => string;

const TRACEPARENT_V00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
// Future versions: the first 55 characters keep the 00 layout; more may follow after a dash.
const TRACEPARENT_FUTURE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const ZERO = /^0+$/;
// Anything outside visible ASCII, space and tab would make setHeader() throw on the way out.
const UNSAFE_HEADER_CHARS = /[^\t\x20-\x7e]/;
const MAX_TRACESTATE = 512;

interface Incoming {
  traceId: string;
  spanId: string;
  sampled: boolean;
  tracestate?: string;
}

/**
 * The context for this hop. Sources in order: a valid `traceparent`; else B3 multi headers; else the
 * single `b3` header; else a new sampled trace. An invalid traceparent is ignored (the spec says to
 * restart the trace) but a valid B3 context from the same caller is still continued rather than lost.
 */
export function continueTrace(headers: IncomingTraceHeaders, randomBytesHex: RandomHex): TraceContext {
  const incoming = fromTraceparent(headers) ?? fromB3Multi(headers) ?? fromB3Single(headers);
  const spanId = randomId(randomBytesHex, 8);
  if (incoming === null || typeof incoming === 'boolean') {
    // A bare B3 sampling decision ('0'/'1'/'d' without ids) is honoured for the new trace.
    return {
      traceId: randomId(randomBytesHex, 16),
      spanId,
      parentSpanId: null,
      sampled: typeof incoming === 'boolean' ? incoming : true,
    };
  }
  const ctx: TraceContext = {
    traceId: incoming.traceId,
    spanId,
    parentSpanId: incoming.spanId,
    sampled: incoming.sampled,
  };
  if (incoming.tracestate !== undefined) ctx.tracestate = incoming.tracestate;
  return ctx;
}

/**
 * Headers to send upstream: traceparent (+ tracestate), and B3 multi when `b3` (the caller used B3),
 * all naming this hop's span.
 */
export function traceHeaders(ctx: TraceContext, b3: boolean): Record<string, string> {
  const out: Record<string, string> = {
    traceparent: `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`,
  };
  if (ctx.tracestate) out.tracestate = ctx.tracestate;
  if (!b3) return out;
  out['x-b3-traceid'] = ctx.traceId;
  out['x-b3-spanid'] = ctx.spanId;
  if (ctx.parentSpanId !== null) out['x-b3-parentspanid'] = ctx.parentSpanId;
  out['x-b3-sampled'] = ctx.sampled ? '1' : '0';
  return out;
}

/**
 * Whether the caller sent B3 (multi or single). Only then does this hop send B3 on, as Envoy and
 * Linkerd do: W3C is always sent, and four more headers on every request cost the proxy CPU.
 */
export function usesB3(headers: IncomingTraceHeaders): boolean {
  return (
    headers.b3 !== undefined ||
    headers['x-b3-traceid'] !== undefined ||
    headers['x-b3-spanid'] !== undefined ||
    headers['x-b3-sampled'] !== undefined ||
    headers['x-b3-flags'] !== undefined ||
    headers['x-b3-parentspanid'] !== undefined
  );
}

/**
 * Continues the caller's trace in `out`, the copy of the caller's headers that goes upstream: this
 * hop's traceparent (and tracestate), B3 multi only for a B3 caller (a single `b3` header becomes
 * B3 multi). Caller values this hop does not vouch for (a stale tracestate or B3 parent) are removed.
 */
export function propagateTrace(incoming: IncomingTraceHeaders, out: Record<string, unknown>, randomBytesHex: RandomHex): TraceContext {
  const ctx = continueTrace(incoming, randomBytesHex);
  const b3 = usesB3(incoming);
  if (out.tracestate !== undefined && ctx.tracestate === undefined) delete out.tracestate;
  if (b3) {
    if (out.b3 !== undefined) delete out.b3;
    if (out['x-b3-parentspanid'] !== undefined && ctx.parentSpanId === null) delete out['x-b3-parentspanid'];
  }
  const set = traceHeaders(ctx, b3);
  for (const k in set) out[k] = set[k];
  return ctx;
}

/** A request id in UUID v4 form (the format Envoy uses for x-request-id). */
export function newRequestId(randomBytesHex: RandomHex): string {
  const h = checkedHex(randomBytesHex, 16);
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function fromTraceparent(headers: IncomingTraceHeaders): Incoming | null {
  const value = single(headers.traceparent);
  if (value === undefined) return null;
  const v = value.trim();
  let traceId: string;
  let parentId: string;
  let flags: string;
  const v00 = TRACEPARENT_V00.exec(v);
  if (v00 !== null) {
    [, traceId, parentId, flags] = v00;
  } else {
    const future = TRACEPARENT_FUTURE.exec(v);
    // Version ff is forbidden; a version 00 header that failed the strict pattern is invalid.
    if (future === null || future[1] === 'ff' || future[1] === '00') return null;
    [, , traceId, parentId, flags] = future;
  }
  if (ZERO.test(traceId) || ZERO.test(parentId)) return null;
  const ctx: Incoming = { traceId, spanId: parentId, sampled: (parseInt(flags, 16) & 1) === 1 };
  const tracestate = readTracestate(headers.tracestate);
  if (tracestate !== undefined) ctx.tracestate = tracestate;
  return ctx;
}

/** Several tracestate headers are one list; unsafe or oversized values are dropped, not forwarded. */
function readTracestate(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const joined = (Array.isArray(value) ? value.join(',') : value).trim();
  if (joined === '' || joined.length > MAX_TRACESTATE || UNSAFE_HEADER_CHARS.test(joined)) return undefined;
  return joined;
}

/** B3 multi headers; a boolean when only x-b3-sampled (or x-b3-flags) is present. */
function fromB3Multi(headers: IncomingTraceHeaders): Incoming | boolean | null {
  const traceId = single(headers['x-b3-traceid']);
  const sampled = b3Sampled(single(headers['x-b3-flags']) === '1' ? 'd' : single(headers['x-b3-sampled']));
  if (traceId === undefined) return sampled ?? null;
  const tid = b3TraceId(traceId);
  const sid = b3SpanId(single(headers['x-b3-spanid']));
  if (tid === null || sid === null) return null;
  return { traceId: tid, spanId: sid, sampled: sampled ?? true };
}

/** `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]` or a bare sampling decision. */
function fromB3Single(headers: IncomingTraceHeaders): Incoming | boolean | null {
  const value = single(headers.b3);
  if (value === undefined) return null;
  const parts = value.trim().split('-');
  if (parts.length === 1) return b3Sampled(parts[0]) ?? null;
  if (parts.length > 4) return null;
  const tid = b3TraceId(parts[0]);
  const sid = b3SpanId(parts[1]);
  if (tid === null || sid === null) return null;
  let sampled: boolean | undefined = true;
  if (parts.length >= 3) {
    sampled = b3Sampled(parts[2]);
    if (sampled === undefined) return null;
  }
  if (parts.length === 4 && b3SpanId(parts[3]) === null) return null;
  return { traceId: tid, spanId: sid, sampled };
}

/** B3 trace ids are 64 or 128 bit; 64-bit ones are left-padded to the 128-bit W3C form. */
function b3TraceId(value: string): string | null {
  const v = value.trim().toLowerCase();
  const id = v.length === 16 ? '0000000000000000' + v : v;
  return HEX32.test(id) && !ZERO.test(id) ? id : null;
}

function b3SpanId(value: string | undefined): string | null {
  if (value === undefined) return null;
  const v = value.trim().toLowerCase();
  return HEX16.test(v) && !ZERO.test(v) ? v : null;
}

/** '1'/'true' sampled, '0'/'false' not, 'd' (debug) sampled; anything else undecided. */
function b3Sampled(value: string | undefined): boolean | undefined {
  switch (value?.trim().toLowerCase()) {
    case '1':
    case 'true':
    case 'd':
      return true;
    case '0':
    case 'false':
      return false;
    default:
      return undefined;
  }
}

/** A header repeated with several values is ambiguous for ids, so it counts as absent. */
function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value;
}

function randomId(randomBytesHex: RandomHex, bytes: number): string {
  // An all-zero id is invalid on the wire; with a real random source this loop never repeats.
  for (let i = 0; i < 3; i++) {
    const id = checkedHex(randomBytesHex, bytes);
    if (!ZERO.test(id)) return id;
  }
  return '0'.repeat(bytes * 2 - 1) + '1';
}

function checkedHex(randomBytesHex: RandomHex, bytes: number): string {
  const h = randomBytesHex(bytes).toLowerCase();
  if (h.length !== bytes * 2 || !/^[0-9a-f]*$/.test(h)) {
    throw new TypeError(`randomBytesHex(${bytes}) must return ${bytes * 2} hex characters`);
  }
  return h;
}
