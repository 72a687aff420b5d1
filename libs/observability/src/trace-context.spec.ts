import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { continueTrace, newRequestId, propagateTrace, traceHeaders, usesB3, type RandomHex, type TraceContext } from './trace-context';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

/** Predictable "random" ids: a, b, c... repeated to the requested length. */
function fakeRandom(): RandomHex & { calls: number[] } {
  let next = 0;
  const calls: number[] = [];
  const fn = (n: number) => {
    calls.push(n);
    const digit = 'abcdef'[next++ % 6];
    return digit.repeat(n * 2);
  };
  return Object.assign(fn, { calls });
}

function isNewTrace(ctx: TraceContext): void {
  assert.match(ctx.traceId, /^[0-9a-f]{32}$/);
  assert.notEqual(ctx.traceId, TRACE);
  assert.match(ctx.spanId, /^[0-9a-f]{16}$/);
  assert.equal(ctx.parentSpanId, null);
  assert.equal(ctx.tracestate, undefined);
}

describe('continueTrace', () => {
  it('keeps the W3C trace id and makes the caller span the parent', () => {
    const random = fakeRandom();
    const ctx = continueTrace(
      { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7' },
      random,
    );
    assert.deepEqual(ctx, {
      traceId: TRACE,
      spanId: 'aaaaaaaaaaaaaaaa',
      parentSpanId: PARENT,
      sampled: true,
      tracestate: 'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7',
    });
    assert.deepEqual(random.calls, [8], 'only the span id is drawn');
  });

  it('reads the sampled flag and ignores the other flag bits', () => {
    assert.equal(continueTrace({ traceparent: `00-${TRACE}-${PARENT}-00` }, fakeRandom()).sampled, false);
    assert.equal(continueTrace({ traceparent: `00-${TRACE}-${PARENT}-03` }, fakeRandom()).sampled, true);
    assert.equal(continueTrace({ traceparent: `00-${TRACE}-${PARENT}-02` }, fakeRandom()).sampled, false);
  });

  it('replaces invalid traceparent headers with a new sampled trace and drops their tracestate', () => {
    const invalid = [
      `00-${TRACE.toUpperCase()}-${PARENT}-01`, // upper-case hex
      `00-${'0'.repeat(32)}-${PARENT}-01`, // all-zero trace id
      `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero parent id
      `00-${TRACE}-${PARENT}-01-extra`, // version 00 has exactly 55 characters
      `00-${TRACE.slice(1)}-${PARENT}-01`, // short trace id
      `00-${TRACE}-${PARENT}-1`, // short flags
      `ff-${TRACE}-${PARENT}-01`, // forbidden version
      `0-${TRACE}-${PARENT}-01`,
      `00_${TRACE}_${PARENT}_01`,
      `00-${TRACE}-${PARENT}-0g`,
      '',
    ];
    for (const traceparent of invalid) {
      const ctx = continueTrace({ traceparent, tracestate: 'a=b' }, fakeRandom());
      isNewTrace(ctx);
      assert.equal(ctx.sampled, true, traceparent);
    }
  });

  it('accepts a future version by its first 55 characters', () => {
    const ctx = continueTrace({ traceparent: `cc-${TRACE}-${PARENT}-01-what-the-future-brings` }, fakeRandom());
    assert.equal(ctx.traceId, TRACE);
    assert.equal(ctx.parentSpanId, PARENT);
    isNewTrace(continueTrace({ traceparent: `cc-${TRACE}-${PARENT}-01x` }, fakeRandom()));
  });

  it('treats repeated traceparent headers as absent and drops unsafe tracestate', () => {
    isNewTrace(continueTrace({ traceparent: [`00-${TRACE}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01`] }, fakeRandom()));
    const ctx = continueTrace({ traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'a=b\u0007' }, fakeRandom());
    assert.equal(ctx.traceId, TRACE);
    assert.equal(ctx.tracestate, undefined);
    const joined = continueTrace({ traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: ['a=1', 'b=2'] }, fakeRandom());
    assert.equal(joined.tracestate, 'a=1,b=2');
  });

  it('continues B3 multi headers, padding 64-bit trace ids', () => {
    const ctx = continueTrace(
      { 'x-b3-traceid': 'A3CE929D0E0E4736', 'x-b3-spanid': PARENT, 'x-b3-parentspanid': '1111111111111111', 'x-b3-sampled': '0' },
      fakeRandom(),
    );
    assert.deepEqual(ctx, {
      traceId: '0000000000000000a3ce929d0e0e4736',
      spanId: 'aaaaaaaaaaaaaaaa',
      parentSpanId: PARENT,
      sampled: false,
    });
    const full = continueTrace({ 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT }, fakeRandom());
    assert.equal(full.traceId, TRACE);
    assert.equal(full.sampled, true, 'no sampling decision: sampled');
    assert.equal(continueTrace({ 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-flags': '1', 'x-b3-sampled': '0' }, fakeRandom()).sampled, true);
  });

  it('replaces invalid B3 ids with a new trace', () => {
    isNewTrace(continueTrace({ 'x-b3-traceid': TRACE }, fakeRandom()));
    isNewTrace(continueTrace({ 'x-b3-traceid': '123', 'x-b3-spanid': PARENT }, fakeRandom()));
    isNewTrace(continueTrace({ 'x-b3-traceid': TRACE, 'x-b3-spanid': '0000000000000000' }, fakeRandom()));
    isNewTrace(continueTrace({ b3: `${TRACE}-xyz-1` }, fakeRandom()));
    isNewTrace(continueTrace({ b3: `${TRACE}-${PARENT}-maybe` }, fakeRandom()));
  });

  it('continues the single b3 header', () => {
    const ctx = continueTrace({ b3: `${TRACE}-${PARENT}-1-1111111111111111` }, fakeRandom());
    assert.deepEqual([ctx.traceId, ctx.parentSpanId, ctx.sampled], [TRACE, PARENT, true]);
    const short = continueTrace({ b3: `a3ce929d0e0e4736-${PARENT}-d` }, fakeRandom());
    assert.deepEqual([short.traceId, short.parentSpanId, short.sampled], ['0000000000000000a3ce929d0e0e4736', PARENT, true]);
    assert.equal(continueTrace({ b3: `${TRACE}-${PARENT}` }, fakeRandom()).sampled, true);
    const deny = continueTrace({ b3: '0' }, fakeRandom());
    isNewTrace(deny);
    assert.equal(deny.sampled, false, 'a bare "0" is a sampling decision for the new trace');
  });

  it('prefers a valid traceparent over B3, and falls back to B3 when traceparent is invalid', () => {
    const both = { 'x-b3-traceid': 'a3ce929d0e0e4736', 'x-b3-spanid': '1111111111111111' };
    assert.equal(continueTrace({ ...both, traceparent: `00-${TRACE}-${PARENT}-01` }, fakeRandom()).traceId, TRACE);
    const fallback = continueTrace({ ...both, traceparent: `00-${'0'.repeat(32)}-${PARENT}-01` }, fakeRandom());
    assert.equal(fallback.traceId, '0000000000000000a3ce929d0e0e4736');
    assert.equal(fallback.parentSpanId, '1111111111111111');
  });

  it('starts a sampled trace when there are no trace headers, never with all-zero ids', () => {
    const random = fakeRandom();
    const ctx = continueTrace({ host: 'cart' }, random);
    assert.deepEqual(ctx, { traceId: 'b'.repeat(32), spanId: 'a'.repeat(16), parentSpanId: null, sampled: true });
    let first = true;
    const zeroFirst = (n: number) => (first ? ((first = false), '0'.repeat(n * 2)) : '7'.repeat(n * 2));
    assert.equal(continueTrace({}, zeroFirst).spanId, '7'.repeat(16));
    assert.throws(() => continueTrace({}, () => 'xyz'), TypeError);
  });
});

describe('traceHeaders', () => {
  it('writes traceparent, tracestate and B3 multi for this hop', () => {
    const ctx = continueTrace({ traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=1' }, fakeRandom());
    assert.deepEqual(traceHeaders(ctx, false), { traceparent: `00-${TRACE}-aaaaaaaaaaaaaaaa-01`, tracestate: 'rojo=1' });
    assert.deepEqual(traceHeaders(ctx, true), {
      traceparent: `00-${TRACE}-aaaaaaaaaaaaaaaa-01`,
      tracestate: 'rojo=1',
      'x-b3-traceid': TRACE,
      'x-b3-spanid': 'aaaaaaaaaaaaaaaa',
      'x-b3-parentspanid': PARENT,
      'x-b3-sampled': '1',
    });
  });

  it('omits the parent of a root span and encodes "not sampled"', () => {
    const headers = traceHeaders({ traceId: TRACE, spanId: PARENT, parentSpanId: null, sampled: false }, true);
    assert.deepEqual(headers, {
      traceparent: `00-${TRACE}-${PARENT}-00`,
      'x-b3-traceid': TRACE,
      'x-b3-spanid': PARENT,
      'x-b3-sampled': '0',
    });
  });

  it('round-trips B3 to W3C and back across two hops', () => {
    const hop1 = continueTrace({ b3: `a3ce929d0e0e4736-${PARENT}-1` }, fakeRandom());
    const hop2 = continueTrace(traceHeaders(hop1, true), (n) => 'c'.repeat(n * 2));
    assert.equal(hop2.traceId, hop1.traceId);
    assert.equal(hop2.parentSpanId, hop1.spanId);
    assert.equal(hop2.spanId, 'c'.repeat(16));
    const viaB3Only = continueTrace(
      Object.fromEntries(Object.entries(traceHeaders(hop1, true)).filter(([k]) => k.startsWith('x-b3-'))),
      fakeRandom(),
    );
    assert.equal(viaB3Only.traceId, hop1.traceId);
    assert.equal(viaB3Only.parentSpanId, hop1.spanId);
  });
});

describe('usesB3', () => {
  it('is true for any B3 field, single or multi, and false for W3C alone or no trace', () => {
    for (const h of [{ b3: '1' }, { 'x-b3-traceid': TRACE }, { 'x-b3-spanid': PARENT }, { 'x-b3-sampled': '0' }, { 'x-b3-flags': '1' }, { 'x-b3-parentspanid': PARENT }]) {
      assert.equal(usesB3(h), true, JSON.stringify(h));
    }
    assert.equal(usesB3({ traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=1' }), false);
    assert.equal(usesB3({ host: 'cart' }), false);
  });
});

describe('propagateTrace', () => {
  it('sends only W3C to continue a W3C caller', () => {
    const incoming = { host: 'cart', traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=1' };
    const out: Record<string, unknown> = { ...incoming };
    const ctx = propagateTrace(incoming, out, fakeRandom());
    assert.deepEqual(out, { host: 'cart', traceparent: `00-${TRACE}-aaaaaaaaaaaaaaaa-01`, tracestate: 'rojo=1' });
    assert.equal(ctx.parentSpanId, PARENT);
  });

  it('starts a W3C-only trace for a caller without trace headers', () => {
    const out: Record<string, unknown> = { host: 'cart' };
    propagateTrace({ host: 'cart' }, out, fakeRandom());
    assert.deepEqual(Object.keys(out).sort(), ['host', 'traceparent']);
    assert.match(String(out.traceparent), /^00-b{32}-a{16}-01$/);
  });

  it('answers a B3 single caller in B3 multi and W3C, without the single header', () => {
    const incoming = { b3: `${TRACE}-${PARENT}-0` };
    const out: Record<string, unknown> = { ...incoming };
    propagateTrace(incoming, out, fakeRandom());
    assert.deepEqual(out, {
      traceparent: `00-${TRACE}-aaaaaaaaaaaaaaaa-00`,
      'x-b3-traceid': TRACE,
      'x-b3-spanid': 'aaaaaaaaaaaaaaaa',
      'x-b3-parentspanid': PARENT,
      'x-b3-sampled': '0',
    });
  });

  it('drops what a restarted trace cannot vouch for: a B3 parent and the tracestate of a bad traceparent', () => {
    const incoming = { traceparent: 'garbage', tracestate: 'rojo=1', 'x-b3-sampled': '1', 'x-b3-parentspanid': PARENT };
    const out: Record<string, unknown> = { ...incoming };
    const ctx = propagateTrace(incoming, out, fakeRandom());
    assert.equal(ctx.parentSpanId, null);
    assert.equal(out.tracestate, undefined);
    assert.equal(out['x-b3-parentspanid'], undefined);
    assert.equal(out['x-b3-traceid'], ctx.traceId);
    assert.equal(out['x-b3-sampled'], '1');
    assert.equal(out.traceparent, `00-${ctx.traceId}-${ctx.spanId}-01`);
  });
});

describe('newRequestId', () => {
  it('formats 16 random bytes as a UUID v4', () => {
    assert.equal(newRequestId(() => 'f'.repeat(32)), 'ffffffff-ffff-4fff-bfff-ffffffffffff');
    assert.equal(newRequestId(() => '0'.repeat(32)), '00000000-0000-4000-8000-000000000000');
    let i = 0;
    const ids = new Set(Array.from({ length: 100 }, () => newRequestId((n) => (i++).toString(16).padStart(n * 2, '0'))));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
