import { del, enc, errorText, get, getForEdit } from '../api';
import { confirmButton, emptyState, flash, h, mount, type Child } from '../dom';
import type { PageFactory } from '../page';
import type { EgressRule, IngressRule, ServiceSummary } from '../types';
import { egressForm } from './egress-form';
import { ingressForm } from './ingress-form';

/**
 * The mesh's edges: ingress rules (what an edge Mesher, `--mode edge`, sends where) and egress rules (which
 * outside hosts the mesh may call). Each list is edited in place; an edit re-reads its rule first, so the form
 * starts from the current version and carries its ETag.
 */

interface Section<T extends { id: string }> {
  kind: 'ingress' | 'egress';
  title: string;
  what: string;
  empty: [string, string];
  columns: string[];
  cells(r: T): Child[];
  describe(r: T): string;
  form(rule: T | null, etag: string | null, done: (saved: T | null) => void, reload: () => void): HTMLFormElement;
}

function ruleSection<T extends { id: string }>(sec: Section<T>): { el: HTMLElement; load(): Promise<void> } {
  const formBox = h('div');
  const list = h('div');
  const path = `/v1/${sec.kind}`;

  const close = () => {
    mount(formBox);
    newBtn.hidden = false;
  };
  const open = (rule: T | null, etag: string | null) => {
    const reload = () => void (rule ? edit(rule.id) : open(null, null));
    const form = sec.form(rule, etag, (saved) => {
      close();
      if (saved) {
        flash(`Saved the ${sec.what}: ${sec.describe(saved)}`);
        void load();
      }
    }, reload);
    mount(formBox, form);
    newBtn.hidden = true;
    form.scrollIntoView({ block: 'start' });
    form.querySelector<HTMLInputElement>('input')?.focus();
  };
  const edit = async (id: string) => {
    try {
      const { body, etag } = await getForEdit<T>(`${path}/${enc(id)}`);
      open(body, etag);
    } catch (e) {
      flash(`Could not open the ${sec.what}: ${errorText(e)}`, 'error');
      void load();
    }
  };

  const load = async () => {
    let rules: T[];
    try {
      rules = await get<T[]>(path);
    } catch (e) {
      return mount(list, h('p', { class: 'error-text', role: 'alert' }, `Could not load ${sec.what}s: ${errorText(e)}`));
    }
    if (rules.length === 0) return mount(list, emptyState(...sec.empty));
    mount(
      list,
      h(
        'table',
        { class: 'data', 'aria-label': sec.title },
        h('thead', null, h('tr', null, [...sec.columns, ''].map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          null,
          rules.map((r) =>
            h(
              'tr',
              { [`data-${sec.kind}`]: r.id },
              sec.cells(r),
              h(
                'td',
                { class: 'row-actions' },
                h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${sec.what} ${sec.describe(r)}`, onclick: () => void edit(r.id) }, 'Edit'),
                confirmButton('Delete', `Delete ${sec.what} ${sec.describe(r)}`, async () => {
                  try {
                    await del(`${path}/${enc(r.id)}`);
                    flash(`Deleted the ${sec.what} ${sec.describe(r)}`);
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
  };

  const newBtn = h('button', { type: 'button', class: 'primary', onclick: () => open(null, null) }, `New ${sec.what}`);
  const el = h(
    'section',
    { 'aria-labelledby': `${sec.kind}-h` },
    h('div', { class: 'section-head' }, h('h2', { id: `${sec.kind}-h` }, sec.title), h('span', { class: 'spacer' }), newBtn),
    formBox,
    list,
  );
  return { el, load };
}

const dash = (v: string | number | null) => (v === null ? h('span', { class: 'muted' }, 'any') : h('code', null, String(v)));

export const edgePage: PageFactory = () => {
  let services: string[] = [];
  const ingress = ruleSection<IngressRule>({
    kind: 'ingress',
    title: 'Ingress rules',
    what: 'ingress rule',
    empty: ['No ingress rules', 'An edge Mesher (--mode edge) answers 404 ROUTE_NOT_FOUND until a rule maps a host or path to a service.'],
    columns: ['Host', 'Path', 'Rewrite to', 'Service', 'Port'],
    cells: (r) => [
      h('td', null, dash(r.host)),
      h('td', null, r.pathRegex ? [h('span', { class: 'chip' }, 'regex'), h('code', null, r.pathRegex)] : r.pathPrefix ? h('code', null, `${r.pathPrefix}*`) : dash(null)),
      h('td', null, r.rewritePath === null ? h('span', { class: 'muted' }, 'unchanged') : r.rewritePath === '' ? h('span', { class: 'muted' }, 'prefix removed') : h('code', null, r.rewritePath)),
      h('th', { scope: 'row' }, r.service),
      h('td', null, dash(r.port)),
    ],
    describe: (r) => `${r.host ?? '*'}${r.pathRegex ? ` ~${r.pathRegex}` : r.pathPrefix ?? ''} → ${r.service}`,
    form: (rule, etag, done, reload) => ingressForm(rule, etag, services, done, reload),
  });
  const egress = ruleSection<EgressRule>({
    kind: 'egress',
    title: 'Egress rules',
    what: 'egress rule',
    empty: ['No egress rules', 'Sidecars refuse hosts that are not registered services (SERVICE_NOT_FOUND) unless an egress rule allows them.'],
    columns: ['Host', 'Ports', 'TLS', 'Policy'],
    cells: (r) => [
      h('th', { scope: 'row' }, h('code', null, r.host)),
      h('td', null, r.ports.join(', ')),
      h('td', null, r.tls ? 'yes' : 'no'),
      h('td', null, r.policy && Object.keys(r.policy).length ? Object.keys(r.policy).map((k) => h('span', { class: 'chip', title: JSON.stringify(r.policy![k]) }, k)) : h('span', { class: 'muted' }, 'defaults')),
    ],
    describe: (r) => `${r.host}:${r.ports.join(',')}`,
    form: (rule, etag, done, reload) => egressForm(rule, etag, done, reload),
  });

  const load = async () => {
    services = (await get<ServiceSummary[]>('/v1/services').catch(() => [])).map((x) => x.name);
    await Promise.all([ingress.load(), egress.load()]);
  };
  void load();
  // No polling: a refresh must never replace a form being edited.
  const el = h(
    'div',
    { class: 'page' },
    h('div', { class: 'section-head' }, h('h1', null, 'Edge'), h('span', { class: 'spacer' }), h('button', { type: 'button', onclick: () => void load() }, 'Refresh')),
    h('p', { class: 'muted' }, 'Traffic from outside the mesh enters through an edge Mesher (--mode edge) by the ingress rules; traffic to outside hosts leaves by the egress rules. Edge traffic shows as “outside” in the topology.'),
    ingress.el,
    egress.el,
  );
  return { title: 'Edge', el };
};
