import { ApiError, del, enc, errorText, get, post, put } from '../api';
import { confirmButton, emptyState, field, flash, h, mount } from '../dom';
import { fmtAgo, fmtPct, fmtRps, parsePairs } from '../format';
import { banner, clearErrors, numberOf, showErrors, textOf } from '../forms';
import { disposer, every, type PageFactory } from '../page';
import { feed } from '../traffic-feed';
import { INSTANCE_STATUSES, type Instance, type InstanceStatus, type ServiceDetail, type ServiceRuntime, type ServiceSummary } from '../types';
import { applyRuntime, circuitBadge, loadRuntime, runtimeCell } from './runtime-state';

const STATUS_CLASS: Record<InstanceStatus, string> = { UP: 'ok', DOWN: 'bad', DRAINING: 'warn' };

function registerForm(onDone: (service: string) => void, names: () => string[]): HTMLFormElement {
  const datalist = h('datalist', { id: 'service-names' });
  const form = h(
    'form',
    { class: 'card form', novalidate: true, 'aria-labelledby': 'reg-h' },
    h('h2', { id: 'reg-h' }, 'Register an instance'),
    banner(),
    h(
      'div',
      { class: 'grid' },
      field('Service', h('input', { name: 'service', list: 'service-names', required: true, autocomplete: 'off', placeholder: 'cart' }), {
        field: 'service',
        hint: 'created if it does not exist',
      }),
      field('Endpoint', h('input', { name: 'endpoint', required: true, placeholder: 'http://127.0.0.1:8081', autocomplete: 'off' }), { field: 'endpoint' }),
      field('Version', h('input', { name: 'version', placeholder: '1.0.0', autocomplete: 'off' }), { field: 'version' }),
      field('Labels', h('input', { name: 'labels', placeholder: 'zone=a, canary=true', autocomplete: 'off' }), { field: 'labels', hint: 'key=value, comma separated' }),
      field('Weight', h('input', { name: 'weight', inputmode: 'numeric', placeholder: '100' }), { field: 'weight' }),
      field('TTL (s)', h('input', { name: 'ttl', inputmode: 'numeric', placeholder: '0' }), { field: 'ttl', hint: '0 = never expires' }),
    ),
    datalist,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Register')),
  );
  form.addEventListener('focusin', () => mount(datalist, names().map((n) => h('option', { value: n }))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const service = textOf(form, 'service');
    const labels = parsePairs(textOf(form, 'labels') ?? '', 'labels');
    const local = [
      ...(service ? [] : [{ field: 'service', message: 'service: give the service name' }]),
      ...(typeof labels === 'string' ? [{ field: 'labels', message: labels }] : []),
    ];
    if (local.length) return showErrors(form, new ApiError(0, 'INVALID', 'check the marked fields', local), 'Not registered');
    const body = {
      endpoint: textOf(form, 'endpoint') ?? '',
      version: textOf(form, 'version'),
      labels: Object.keys(labels).length ? labels : undefined,
      weight: numberOf(form, 'weight'),
      ttl: numberOf(form, 'ttl'),
    };
    const btn = form.querySelector('button[type=submit]') as HTMLButtonElement;
    btn.disabled = true;
    try {
      const inst = await post<Instance>(`/v1/services/${enc(service!)}/instances`, body);
      for (const f of ['endpoint', 'version', 'labels', 'weight', 'ttl']) (form.elements.namedItem(f) as HTMLInputElement).value = '';
      flash(`Registered ${inst.endpoint} in ${service} (id ${inst.id})`);
      onDone(service!);
    } catch (e) {
      showErrors(form, e, 'Not registered');
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

function liveCell(service: string, id: string): HTMLElement {
  return h('td', { class: 'num', 'data-live': `${service}/${id}` }, '–');
}

function instanceRow(svc: string, i: Instance, refresh: () => void): HTMLElement {
  const status = h(
    'select',
    { 'aria-label': `Status of ${i.endpoint}`, class: `status-select h-${STATUS_CLASS[i.status]}` },
    INSTANCE_STATUSES.map((st) => h('option', { value: st, selected: st === i.status }, st)),
  );
  status.addEventListener('change', async () => {
    status.blur(); // lets the list refresh again (it holds still while a select has focus)
    try {
      await put(`/v1/services/${enc(svc)}/instances/${enc(i.id)}`, { status: status.value });
      flash(`${i.endpoint} is now ${status.value}`);
    } catch (e) {
      flash(`Status not changed: ${errorText(e)}`, 'error');
    }
    refresh();
  });
  const remove = confirmButton('Remove', `Remove instance ${i.endpoint}`, async () => {
    try {
      await del(`/v1/services/${enc(svc)}/instances/${enc(i.id)}`);
      flash(`Removed ${i.endpoint} from ${svc}`);
    } catch (e) {
      flash(`Not removed: ${errorText(e)}`, 'error');
    }
    refresh();
  });
  const expires = i.ttl > 0 ? `ttl ${i.ttl}s` : 'no expiry';
  return h(
    'tr',
    { 'data-instance': i.id, 'data-endpoint': i.endpoint },
    h('td', null, h('code', { title: i.id }, i.id.length > 12 ? `${i.id.slice(0, 12)}…` : i.id)),
    h('td', null, h('code', null, i.endpoint)),
    h('td', null, i.version || '–'),
    h('td', null, Object.keys(i.labels ?? {}).length ? Object.entries(i.labels).map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`)) : '–'),
    h('td', { class: 'num' }, String(i.weight)),
    h('td', null, status),
    runtimeCell(svc, i.id),
    liveCell(svc, i.id),
    h('td', { class: 'small' }, `${i.registeredBy} · ${fmtAgo(i.lastHeartbeat)} · ${expires}`),
    h('td', null, remove),
  );
}

function serviceCard(s: ServiceDetail, refresh: () => void): HTMLElement {
  const remove = confirmButton('Remove service', `Remove service ${s.name}`, async () => {
    try {
      await del(`/v1/services/${enc(s.name)}`);
      flash(`Removed service ${s.name}`);
    } catch (e) {
      flash(`Service not removed: ${errorText(e)}`, 'error');
    }
    refresh();
  });
  const c = s.counts;
  return h(
    'section',
    { class: 'card', id: `svc-${s.name}`, 'data-service': s.name, 'aria-labelledby': `svc-${s.name}-h` },
    h(
      'div',
      { class: 'section-head' },
      h('h2', { id: `svc-${s.name}-h` }, s.name),
      h('span', { class: 'muted' }, [s.app ? `app ${s.app}` : null, s.description].filter(Boolean).join(' · ')),
      h('span', { class: 'spacer' }),
      h('span', { class: `badge h-${c.up === 0 ? 'bad' : c.up < c.total ? 'warn' : 'ok'}` }, `${c.up}/${c.total} up`),
      c.draining ? h('span', { class: 'badge h-warn' }, `${c.draining} draining`) : null,
      circuitBadge(s.name),
      h('a', { href: `#/traffic?sel=${enc(`service:${s.name}`)}`, class: 'small' }, 'Traffic'),
      remove,
    ),
    s.instances.length === 0
      ? h('p', { class: 'muted' }, 'No instances: requests to this service get 503 NO_HEALTHY_INSTANCE.')
      : h(
          'div',
          { class: 'table-scroll' },
          h(
            'table',
            { class: 'data instances', 'aria-label': `Instances of ${s.name}` },
            h('thead', null, h('tr', null, ['ID', 'Endpoint', 'Version', 'Labels', 'Weight', 'Status', 'Health', 'Live (1m)', 'Registration', ''].map((x) => h('th', { scope: 'col' }, x)))),
            h('tbody', null, s.instances.map((i) => instanceRow(s.name, i, refresh))),
          ),
        ),
  );
}

export const servicesPage: PageFactory = (params) => {
  const d = disposer();
  const list = h('div', { class: 'stack' });
  let names: string[] = [];
  let focus = params.get('focus');
  let runtime = new Map<string, ServiceRuntime | null>();

  const updateLive = () => {
    const stats = new Map((feed.latest?.instances ?? []).map((x) => [`${x.destination}/${x.instanceId}`, x.windows['1m']]));
    for (const cell of list.querySelectorAll<HTMLElement>('[data-live]')) {
      const w = stats.get(cell.dataset.live!);
      cell.textContent = w ? `${fmtRps(w.rps)} rps · ${fmtPct(w.errorRatio)} err` : feed.status === 'unavailable' ? 'n/a' : '–';
    }
  };

  const refreshRuntime = async () => {
    const fresh = await loadRuntime(names);
    runtime = new Map([...[...runtime].filter(([n]) => names.includes(n)), ...fresh]);
    applyRuntime(list, runtime);
  };

  let loading = false;
  let again = false;
  const load = async (): Promise<void> => {
    if (loading) {
      again = true;
      return;
    }
    // Don't re-render under the user's hands (an open select, an armed remove button).
    const active = document.activeElement;
    if (list.querySelector('.armed') || (active instanceof HTMLSelectElement && list.contains(active))) return;
    loading = true;
    try {
      const summary = await get<ServiceSummary[]>('/v1/services');
      names = summary.map((x) => x.name);
      const details = await Promise.all(
        summary.map((x) => get<ServiceDetail>(`/v1/services/${enc(x.name)}`).catch(() => ({ ...x, instances: [], counts: x.instances }))),
      );
      if (details.length === 0) {
        mount(list, emptyState('No services yet', 'Register an instance above: the service is created with it.'));
      } else {
        mount(list, details.map((s) => serviceCard(s, () => void load())));
        updateLive();
        applyRuntime(list, runtime);
        // A service seen for the first time gets its health now, not at the next tick.
        if (names.some((n) => !runtime.has(n))) void refreshRuntime();
      }
      if (focus) {
        document.getElementById(`svc-${focus}`)?.scrollIntoView({ block: 'start' });
        focus = null;
      }
    } catch (e) {
      mount(list, h('p', { class: 'error-text', role: 'alert' }, `Could not load services: ${errorText(e)}`));
    } finally {
      loading = false;
      if (again) {
        again = false;
        void load();
      }
    }
  };

  const form = registerForm(() => void load(), () => names);
  d.add(every(5000, load));
  // Ejections and health-check failures come and go within seconds: a quicker refresh, in place.
  d.add(every(3000, refreshRuntime));
  d.add(feed.subscribe(updateLive));
  const el = h('div', { class: 'page' }, h('h1', null, 'Services'), form, list);
  return { title: 'Services', el, dispose: d.run };
};
