import type { EdgeStats, TrafficSnapshot, TrafficWindow, WindowStats } from './types';

export const ZERO: WindowStats = { requests: 0, rps: 0, errors: 0, errorRatio: 0, p50: 0, p90: 0, p99: 0 };

/**
 * Sums windows: counts and rates add exactly; quantiles cannot be merged from quantiles, so they are the
 * request-weighted mean (p50, p90) and the worst one (p99) — exact whenever a single window has traffic.
 */
export function combine(list: WindowStats[]): WindowStats {
  const busy = list.filter((w) => w.requests > 0);
  if (busy.length === 0) return { ...ZERO, rps: list.reduce((a, w) => a + w.rps, 0) };
  if (busy.length === 1) return { ...busy[0] };
  const requests = busy.reduce((a, w) => a + w.requests, 0);
  const errors = busy.reduce((a, w) => a + w.errors, 0);
  const mean = (k: 'p50' | 'p90') => busy.reduce((a, w) => a + w[k] * w.requests, 0) / requests;
  return {
    requests,
    rps: busy.reduce((a, w) => a + w.rps, 0),
    errors,
    errorRatio: requests ? errors / requests : 0,
    p50: mean('p50'),
    p90: mean('p90'),
    p99: Math.max(...busy.map((w) => w.p99)),
  };
}

/** What the traffic page can focus on: everything, one destination service, or one edge. */
export type Selection = { kind: 'all' } | { kind: 'service'; service: string } | { kind: 'edge'; source: string; destination: string };

export function selectEdges(snap: TrafficSnapshot, sel: Selection): EdgeStats[] {
  if (sel.kind === 'all') return snap.edges;
  if (sel.kind === 'service') return snap.edges.filter((e) => e.destination === sel.service);
  return snap.edges.filter((e) => e.source === sel.source && e.destination === sel.destination);
}

export function statsFor(snap: TrafficSnapshot | null, sel: Selection, win: TrafficWindow = '1m'): WindowStats {
  if (!snap) return ZERO;
  return combine(selectEdges(snap, sel).map((e) => e.windows[win] ?? ZERO));
}

/** Per destination service, over all its callers. */
export function byDestination(snap: TrafficSnapshot | null, win: TrafficWindow = '1m'): Map<string, WindowStats> {
  const groups = new Map<string, WindowStats[]>();
  for (const e of snap?.edges ?? []) {
    const list = groups.get(e.destination) ?? [];
    list.push(e.windows[win] ?? ZERO);
    groups.set(e.destination, list);
  }
  return new Map([...groups].map(([k, v]) => [k, combine(v)]));
}

export const selectionKey = (sel: Selection): string =>
  sel.kind === 'all' ? 'all' : sel.kind === 'service' ? `service:${sel.service}` : `edge:${sel.source}>${sel.destination}`;

export function parseSelection(key: string | null): Selection {
  if (key?.startsWith('service:')) return { kind: 'service', service: key.slice(8) };
  if (key?.startsWith('edge:')) {
    const [source, destination] = key.slice(5).split('>');
    if (source && destination) return { kind: 'edge', source, destination };
  }
  return { kind: 'all' };
}
