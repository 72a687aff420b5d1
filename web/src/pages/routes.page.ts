import { del, enc, errorText, get, getForEdit } from '../api';
import { confirmButton, emptyState, flash, h, mount } from '../dom';
import { pairsText } from '../format';
import type { PageFactory } from '../page';
import type { RouteMatch, RouteRule, ServiceSummary } from '../types';
import { routeForm } from './route-form';

function matchText(m: RouteMatch | null): string {
  if (!m) return 'everything';
  const parts = [
    m.source ? `from ${m.source}` : '',
    m.pathPrefix ? `path ${m.pathPrefix}*` : '',
    m.methods?.length ? m.methods.join('|') : '',
    ...Object.entries(m.headers ?? {}).map(([k, v]) => {
      const kind = v.exact !== undefined ? '=' : v.prefix !== undefined ? '^=' : '~';
      return `${k}${kind}${v.exact ?? v.prefix ?? v.regex}${v.caseInsensitive ? ' (i)' : ''}`;
    }),
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'everything';
}

function split(rule: RouteRule): HTMLElement {
  const bar = h('div', { class: 'split', 'aria-hidden': 'true' });
  rule.route.forEach((t, i) => {
    const seg = h('span', { class: `seg seg-${i % 4}`, title: `${pairsText(t.tags)}: ${t.weight}%` });
    seg.style.width = `${t.weight}%`;
    bar.append(seg);
  });
  return h('div', null, bar, h('div', { class: 'small' }, rule.route.map((t) => `${pairsText(t.tags) || 'all'} ${t.weight}%`).join(' · ')));
}

export const routesPage: PageFactory = () => {
  const formBox = h('div');
  const list = h('div');
  let services: string[] = [];

  const load = async () => {
    try {
      const [rules, svc] = await Promise.all([get<RouteRule[]>('/v1/routes'), get<ServiceSummary[]>('/v1/services').catch(() => [])]);
      services = svc.map((x) => x.name);
      rules.sort((a, b) => a.service.localeCompare(b.service) || b.precedence - a.precedence);
      if (rules.length === 0) {
        return mount(list, emptyState('No route rules', 'Without rules every instance of a service shares its traffic. Add a rule for a canary or a header match.'));
      }
      mount(
        list,
        h(
          'table',
          { class: 'data', 'aria-label': 'Route rules' },
          h('thead', null, h('tr', null, ['Service', 'Precedence', 'Match', 'Route', 'ID', ''].map((c) => h('th', { scope: 'col' }, c)))),
          h(
            'tbody',
            null,
            rules.map((r) =>
              h(
                'tr',
                { 'data-rule': r.id, 'data-service': r.service },
                h('th', { scope: 'row' }, r.service),
                h('td', { class: 'num' }, String(r.precedence)),
                h('td', null, matchText(r.match), r.policy ? h('span', { class: 'chip' }, 'policy') : null),
                h('td', { class: 'route-cell' }, split(r)),
                h('td', null, h('code', { title: r.id }, r.id.slice(0, 8))),
                h(
                  'td',
                  { class: 'row-actions' },
                  h('button', { type: 'button', class: 'small', 'aria-label': `Edit rule for ${r.service} (${r.id})`, onclick: () => void editById(r.id) }, 'Edit'),
                  confirmButton('Delete', `Delete rule for ${r.service} (${r.id})`, async () => {
                    try {
                      await del(`/v1/routes/${enc(r.id)}`);
                      flash(`Deleted the rule for ${r.service}`);
                    } catch (e) {
                      flash(`Not deleted: ${errorText(e)}`, 'error');
                    }
                    await load();
                  }),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (e) {
      mount(list, h('p', { class: 'error-text', role: 'alert' }, `Could not load route rules: ${errorText(e)}`));
    }
  };

  /** Re-reads the rule, so the form starts from its current version and carries its ETag. */
  const editById = async (id: string) => {
    try {
      const { body, etag } = await getForEdit<RouteRule>(`/v1/routes/${enc(id)}`);
      edit(body, etag);
    } catch (e) {
      flash(`Could not open the rule: ${errorText(e)}`, 'error');
      void load();
    }
  };

  const edit = (rule: RouteRule | null, etag: string | null = null) => {
    const reload = rule ? () => void editById(rule.id) : undefined;
    const form = routeForm(rule, services, (saved) => {
      mount(formBox);
      newBtn.hidden = false;
      if (saved) {
        flash(`Saved the rule for ${saved.service}: ${saved.route.map((t) => `${pairsText(t.tags)} ${t.weight}%`).join(', ')}`);
        void load();
      }
    }, etag, reload);
    mount(formBox, form);
    newBtn.hidden = true;
    form.scrollIntoView({ block: 'start' });
    form.querySelector<HTMLInputElement>('input')?.focus();
  };

  const newBtn = h('button', { type: 'button', class: 'primary', onclick: () => edit(null) }, 'New route rule');
  void load();
  // No polling here: a refresh must never replace a form being edited, and the list changes only through it.
  const el = h(
    'div',
    { class: 'page' },
    h('div', { class: 'section-head' }, h('h1', null, 'Routes'), h('span', { class: 'spacer' }), h('button', { type: 'button', onclick: () => void load() }, 'Refresh'), newBtn),
    formBox,
    list,
  );
  return { title: 'Routes', el };
};
