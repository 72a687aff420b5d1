import { errorText, get } from '../api';
import { emptyState, h, mount } from '../dom';
import { fmtMs, fmtPct, fmtRps, healthOf } from '../format';
import { disposer, every, type PageFactory } from '../page';
import { byDestination, combine, ZERO } from '../stats';
import { topology } from '../topology';
import { feed } from '../traffic-feed';
import type { ServiceSummary } from '../types';
import { feedNote } from './feed-note';

function tile(label: string, value: string, sub: string, cls = ''): HTMLElement {
  return h('div', { class: `tile ${cls}`, 'data-tile': label }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), h('div', { class: 'tile-sub' }, sub));
}

export const overviewPage: PageFactory = () => {
  const d = disposer();
  const tiles = h('section', { class: 'tiles', 'aria-label': 'Summary' });
  const note = h('div');
  const graph = h('div', { class: 'topo-wrap' });
  const calls = h('div');
  const list = h('div');
  let services: ServiceSummary[] | null = null;
  let loadError = '';

  const draw = () => {
    const snap = feed.latest;
    const hasTraffic = feed.status !== 'unavailable' && snap !== null;
    const all = combine((snap?.edges ?? []).map((e) => e.windows['1m'] ?? ZERO));
    const perService = byDestination(snap);
    const svc = services ?? [];
    const up = svc.reduce((a, x) => a + x.instances.up, 0);
    const total = svc.reduce((a, x) => a + x.instances.total, 0);
    const down = total - up;
    mount(
      tiles,
      tile('Services', services ? String(svc.length) : '…', services ? `${svc.filter((x) => x.instances.up > 0).length} with an instance up` : 'loading'),
      tile('Instances up', services ? `${up} / ${total}` : '…', down ? `${down} down or draining` : 'none down', down ? 'warn' : ''),
      tile('Requests / s', hasTraffic ? fmtRps(all.rps) : '–', hasTraffic ? `${all.requests} requests in the last minute` : 'no traffic data'),
      tile('Error ratio', hasTraffic ? fmtPct(all.errorRatio) : '–', hasTraffic ? `${all.errors} errors · p99 ${fmtMs(all.p99)}` : 'no traffic data', hasTraffic ? `h-${healthOf(all.requests, all.errorRatio)}` : ''),
    );

    mount(note, feedNote());
    const counts = new Map(svc.map((x) => [x.name, x.instances]));
    if (svc.length === 0 && !(snap?.edges.length)) {
      mount(graph, emptyState('Nothing to draw yet', 'Registered services and the calls between them appear here.'));
    } else {
      mount(graph, topology({ edges: hasTraffic ? snap!.edges : [], services: counts }));
    }
    mount(
      calls,
      hasTraffic && snap!.edges.length
        ? h(
            'table',
            { class: 'data', 'aria-label': 'Calls in the last minute' },
            h('thead', null, h('tr', null, ['Caller', 'Service', 'Requests / s', 'Requests', 'Errors', 'p50', 'p99'].map((c) => h('th', { scope: 'col' }, c)))),
            h(
              'tbody',
              null,
              [...snap!.edges]
                .sort((a, b) => b.windows['1m'].rps - a.windows['1m'].rps)
                .map((e) => {
                  const w = e.windows['1m'];
                  return h(
                    'tr',
                    { 'data-edge': `${e.source}>${e.destination}` },
                    h('td', null, e.source),
                    h('td', null, h('a', { href: `#/traffic?sel=${encodeURIComponent(`edge:${e.source}>${e.destination}`)}` }, e.destination)),
                    h('td', { class: 'num' }, fmtRps(w.rps)),
                    h('td', { class: 'num', 'data-col': 'requests' }, String(w.requests)),
                    h('td', { class: `num h-${healthOf(w.requests, w.errorRatio)}` }, `${w.errors} (${fmtPct(w.errorRatio)})`),
                    h('td', { class: 'num' }, fmtMs(w.p50)),
                    h('td', { class: 'num' }, fmtMs(w.p99)),
                  );
                }),
            ),
          )
        : null,
    );

    if (loadError) return mount(list, h('p', { class: 'error-text', role: 'alert' }, `Could not load services: ${loadError}`));
    if (!services) return mount(list, h('p', { class: 'muted' }, 'Loading services…'));
    if (svc.length === 0) {
      return mount(list, emptyState('No services registered yet', 'Register an instance on the Services page, or start a sidecar with --service-name.'));
    }
    mount(
      list,
      h(
        'table',
        { class: 'data', 'aria-label': 'Services' },
        h('thead', null, h('tr', null, ['Service', 'Instances', 'Versions', 'Requests / s', 'Error ratio', 'p99'].map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          null,
          svc.map((x) => {
            const w = perService.get(x.name) ?? ZERO;
            const state = x.instances.up === 0 ? 'bad' : x.instances.up < x.instances.total ? 'warn' : 'ok';
            return h(
              'tr',
              { 'data-service': x.name },
              h('th', { scope: 'row' }, h('a', { href: `#/services?focus=${encodeURIComponent(x.name)}` }, x.name), x.description ? h('div', { class: 'muted small' }, x.description) : null),
              h('td', null, h('span', { class: `badge h-${state}` }, `${x.instances.up} up`), x.instances.total > x.instances.up ? ` of ${x.instances.total}` : ''),
              h('td', null, x.versions.join(', ') || '–'),
              h('td', { class: 'num' }, hasTraffic ? fmtRps(w.rps) : '–'),
              h('td', { class: `num h-${healthOf(w.requests, w.errorRatio)}` }, hasTraffic ? fmtPct(w.errorRatio) : '–'),
              h('td', { class: 'num' }, hasTraffic ? fmtMs(w.p99) : '–'),
            );
          }),
        ),
      ),
    );
  };

  d.add(
    every(5000, async () => {
      try {
        services = await get<ServiceSummary[]>('/v1/services');
        loadError = '';
      } catch (e) {
        loadError = errorText(e);
      }
      draw();
    }),
  );
  d.add(feed.subscribe(draw));
  draw();

  const el = h(
    'div',
    { class: 'page' },
    h('h1', null, 'Overview'),
    tiles,
    h('section', { 'aria-labelledby': 'topo-h' }, h('div', { class: 'section-head' }, h('h2', { id: 'topo-h' }, 'Topology'), note), graph, calls),
    h('section', { 'aria-labelledby': 'svc-h' }, h('h2', { id: 'svc-h' }, 'Services'), list),
  );
  return { title: 'Overview', el, dispose: d.run };
};
