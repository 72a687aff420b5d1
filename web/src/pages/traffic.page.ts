import { ApiError, enc, errorText, get } from '../api';
import { lineChart, type Series } from '../charts';
import { emptyState, h, mount } from '../dom';
import { fmtClock, fmtCount, fmtMs, fmtPct, fmtRps } from '../format';
import { disposer, every, type PageFactory } from '../page';
import { parseSelection, selectionKey, statsFor, type Selection } from '../stats';
import { feed } from '../traffic-feed';
import type { MinuteRollup, ServiceDetail, ServiceSummary, TrafficWindow, WindowStats } from '../types';
import { feedNote } from './feed-note';

const LIVE_SPAN_MS = 5 * 60_000;
const RANGES = { hour: { ms: 3_600_000, bucketMs: 60_000, label: 'Last hour' }, day: { ms: 86_400_000, bucketMs: 10 * 60_000, label: 'Last day' } };
type Range = keyof typeof RANGES;

const describe = (sel: Selection) =>
  sel.kind === 'all' ? 'all traffic' : sel.kind === 'service' ? `calls to ${sel.service}` : `${sel.source} → ${sel.destination}`;

function windowRow(label: string, w: WindowStats): HTMLElement {
  return h(
    'tr',
    { 'data-window': label },
    h('th', { scope: 'row' }, label),
    h('td', { class: 'num' }, fmtCount(w.requests)),
    h('td', { class: 'num', 'data-col': 'rps' }, fmtRps(w.rps)),
    h('td', { class: 'num' }, `${fmtCount(w.errors)} (${fmtPct(w.errorRatio)})`),
    h('td', { class: 'num' }, fmtMs(w.p50)),
    h('td', { class: 'num' }, fmtMs(w.p90)),
    h('td', { class: 'num' }, fmtMs(w.p99)),
  );
}

/** Minute rollups -> fixed buckets over [from, to), empty buckets as zero (no traffic, not missing data). */
function bucketize(rows: MinuteRollup[], from: number, to: number, bucketMs: number) {
  const n = Math.ceil((to - from) / bucketMs);
  const b = Array.from({ length: n }, (_, i) => ({ t: from + i * bucketMs, requests: 0, errors: 0, sumMs: 0, p99: 0 }));
  for (const r of rows) {
    const i = Math.floor((r.minute - from) / bucketMs);
    if (i < 0 || i >= n) continue;
    b[i].requests += r.requests;
    b[i].errors += r.errors;
    b[i].sumMs += r.sumMs;
    b[i].p99 = Math.max(b[i].p99, r.p99);
  }
  return b;
}

export const trafficPage: PageFactory = (params) => {
  const d = disposer();
  let sel = parseSelection(params.get('sel'));
  let range: Range = params.get('range') === 'day' ? 'day' : 'hour';
  let services: string[] = [];
  /** instance id -> "endpoint (version)" of the service in focus, so the per-instance table names endpoints. */
  let instanceNames = new Map<string, string>();
  const focusService = () => (sel.kind === 'service' ? sel.service : sel.kind === 'edge' ? sel.destination : null);
  const loadInstanceNames = async () => {
    const dest = focusService();
    if (dest === null || !services.includes(dest)) return;
    const detail = await get<ServiceDetail>(`/v1/services/${enc(dest)}`);
    instanceNames = new Map(detail.instances.map((i) => [i.id, `${i.endpoint}${i.version ? ` (${i.version})` : ''}`]));
  };

  const picker = h('select', { id: 'traffic-sel', name: 'sel' });
  const note = h('div');
  const now = h('div');
  const charts = h('div', { class: 'charts' });
  const perInstance = h('div');
  const history = h('div', { class: 'charts' });
  const historyNote = h('div');

  const syncHash = () => replaceHash(`#/traffic?sel=${enc(selectionKey(sel))}&range=${range}`);

  const fillPicker = () => {
    const edges = (feed.latest?.edges ?? []).map((e) => `edge:${e.source}>${e.destination}`);
    const dests = new Set([...services, ...(feed.latest?.edges ?? []).map((e) => e.destination)]);
    const keys = [...[...dests].sort().map((s) => `service:${s}`), ...edges.sort()];
    const current = selectionKey(sel);
    if (!keys.includes(current) && current !== 'all') keys.push(current);
    const signature = keys.join('|');
    if (picker.dataset.sig === signature) return;
    picker.dataset.sig = signature;
    const opt = (k: string) => h('option', { value: k, selected: k === current }, k === 'all' ? 'All traffic' : describe(parseSelection(k)));
    mount(
      picker,
      opt('all'),
      h('optgroup', { label: 'Services' }, keys.filter((k) => k.startsWith('service:')).map(opt)),
      h('optgroup', { label: 'Caller → service' }, keys.filter((k) => k.startsWith('edge:')).map(opt)),
    );
  };

  const drawLive = () => {
    fillPicker();
    mount(note, feedNote());
    if (feed.status === 'unavailable') {
      mount(now, emptyState('Live traffic is not available', feed.detail));
      mount(charts);
      mount(perInstance);
      return;
    }
    const snap = feed.latest;
    const w = (win: TrafficWindow) => statsFor(snap, sel, win);
    mount(
      now,
      h(
        'table',
        { class: 'data', 'aria-label': `Current numbers for ${describe(sel)}` },
        h('thead', null, h('tr', null, ['Window', 'Requests', 'Requests / s', 'Errors', 'p50', 'p90', 'p99'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, windowRow('1 min', w('1m')), windowRow('5 min', w('5m'))),
      ),
    );
    const to = snap?.at ?? Date.now();
    const from = to - LIVE_SPAN_MS;
    const pts = feed.history.filter((x) => x.at >= from).map((x) => [x.at, statsFor(x, sel)] as const);
    const line = (name: string, cls: string, f: (w: WindowStats) => number): Series => ({ name, cls, points: pts.map(([t, s]) => [t, f(s)]) });
    const common = { from, to, xFormat: (t: number) => fmtClock(t), gapMs: 5000 };
    mount(
      charts,
      lineChart({ ...common, title: 'Requests / s', series: [line('rps', 's-blue', (s) => s.rps)], yFormat: fmtRps }),
      lineChart({ ...common, title: 'Latency', series: [line('p50', 's-teal', (s) => s.p50), line('p99', 's-purple', (s) => s.p99)], yFormat: fmtMs }),
      lineChart({ ...common, title: 'Errors / s', series: [line('errors', 's-red', (s) => s.rps * s.errorRatio)], yFormat: fmtRps }),
    );
    const dest = focusService();
    const insts = dest === null ? [] : (snap?.instances ?? []).filter((i) => i.destination === dest);
    mount(
      perInstance,
      insts.length
        ? h(
            'table',
            { class: 'data', 'aria-label': 'Per instance, last minute' },
            h('caption', null, 'Per instance (last minute, all callers)'),
            h('thead', null, h('tr', null, ['Instance', 'Requests', 'Requests / s', 'Errors', 'p50', 'p90', 'p99'].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', null, insts.map((i) => windowRow(instanceNames.get(i.instanceId) ?? i.instanceId, i.windows['1m']))),
          )
        : null,
    );
  };

  const loadHistory = async () => {
    const r = RANGES[range];
    const to = Math.ceil(Date.now() / r.bucketMs) * r.bucketMs;
    const from = to - r.ms;
    const service = focusService();
    let rows: MinuteRollup[];
    try {
      rows = await get<MinuteRollup[]>(`/v1/traffic/history?${service === null ? '' : `service=${enc(service)}&`}from=${from}&to=${to}`);
    } catch (e) {
      mount(history);
      mount(
        historyNote,
        e instanceof ApiError && e.status === 404 && /^Cannot GET/.test(e.message)
          ? emptyState('History is not available', 'this Mesher has no stored traffic rollups (GET /v1/traffic/history answered 404).')
          : h('p', { class: 'error-text', role: 'alert' }, `Could not load history: ${errorText(e)}`),
      );
      return;
    }
    const only = sel.kind === 'edge' ? sel.source : null;
    if (only !== null) rows = rows.filter((x) => x.source === only);
    const b = bucketize(rows, from, to, r.bucketMs);
    const perSec = r.bucketMs / 1000;
    const total = b.reduce((a, x) => a + x.requests, 0);
    mount(historyNote, h('p', { class: 'muted' }, `${r.label}, ${describe(sel)}: ${fmtCount(total)} requests (${r.bucketMs / 60_000}-minute buckets; rollups are written as each minute ends).`));
    const common = { from, to, xFormat: (t: number) => fmtClock(t, range === 'day') };
    const pts = (f: (x: (typeof b)[number]) => number): Array<[number, number]> => b.map((x) => [x.t, f(x)]);
    mount(
      history,
      lineChart({ ...common, title: 'Requests / s', series: [{ name: 'rps', cls: 's-blue', points: pts((x) => x.requests / perSec) }], yFormat: fmtRps }),
      lineChart({
        ...common,
        title: 'Latency',
        series: [
          // No requests, no latency: a gap rather than a drop to zero.
          { name: 'mean', cls: 's-teal', points: pts((x) => (x.requests ? x.sumMs / x.requests : NaN)) },
          { name: 'p99 (worst minute)', cls: 's-purple', points: pts((x) => (x.requests ? x.p99 : NaN)) },
        ],
        yFormat: fmtMs,
      }),
      lineChart({ ...common, title: 'Errors / s', series: [{ name: 'errors', cls: 's-red', points: pts((x) => x.errors / perSec) }], yFormat: fmtRps }),
    );
  };

  picker.addEventListener('change', () => {
    sel = parseSelection(picker.value);
    syncHash();
    void loadInstanceNames().then(drawLive, drawLive);
    drawLive();
    void loadHistory();
  });
  const rangeButtons = (Object.keys(RANGES) as Range[]).map((k) => {
    const input = h('input', { type: 'radio', name: 'range', value: k, checked: k === range });
    input.addEventListener('change', () => {
      range = k;
      syncHash();
      void loadHistory();
    });
    return h('label', { class: 'radio' }, input, RANGES[k].label);
  });

  d.add(feed.subscribe(drawLive));
  d.add(every(60_000, loadHistory));
  d.add(
    every(10_000, async () => {
      services = (await get<ServiceSummary[]>('/v1/services')).map((x) => x.name);
      await loadInstanceNames();
      drawLive();
    }),
  );
  drawLive();

  const el = h(
    'div',
    { class: 'page' },
    h('h1', null, 'Traffic'),
    h('div', { class: 'toolbar' }, h('label', { for: 'traffic-sel' }, 'Show'), picker, note),
    h('section', { 'aria-labelledby': 'live-h' }, h('h2', { id: 'live-h' }, 'Live'), now, charts, perInstance),
    h(
      'section',
      { 'aria-labelledby': 'hist-h' },
      h('div', { class: 'section-head' }, h('h2', { id: 'hist-h' }, 'History'), h('fieldset', { class: 'radios' }, h('legend', { class: 'sr-only' }, 'Range'), rangeButtons)),
      historyNote,
      history,
    ),
  );
  return { title: 'Traffic', el, dispose: d.run };
};

/** Keeps the selection in the address without re-mounting the page (no hashchange). */
function replaceHash(hash: string): void {
  window.history.replaceState(null, '', hash);
}
