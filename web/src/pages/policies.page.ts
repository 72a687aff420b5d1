import { del, enc, errorText, get, getForEdit, put } from '../api';
import { confirmButton, emptyState, field, flash, h, mount } from '../dom';
import { banner, clearErrors, showErrors } from '../forms';
import type { PageFactory } from '../page';
import { LB_STRATEGIES, type PolicyDetail, type PolicyRecord, type PolicySpec, type ServiceSummary } from '../types';

type Kind = 'number' | 'text' | 'bool' | 'list' | readonly string[];
interface Def {
  key: string;
  title: string;
  fields: Array<[name: string, label: string, kind: Kind]>;
}

/** The form's sections; field paths are the API's (`retry.attempts`, `fault.delay.percent`). */
const SECTIONS: Def[] = [
  {
    key: 'loadBalancer',
    title: 'Load balancer',
    fields: [
      ['strategy', 'Strategy', LB_STRATEGIES],
      ['sessionHeader', 'Session header', 'text'],
      ['sessionCookie', 'Session cookie', 'text'],
      ['sessionFailureThreshold', 'Session failure threshold', 'number'],
    ],
  },
  { key: 'timeout', title: 'Timeout', fields: [['requestMs', 'Request (ms)', 'number'], ['perTryMs', 'Per try (ms)', 'number']] },
  {
    key: 'retry',
    title: 'Retry',
    fields: [
      ['attempts', 'Attempts (incl. first)', 'number'],
      ['retryOn', 'Retry on', 'list'],
      ['retryNonIdempotent', 'Retry non-idempotent requests', 'bool'],
      ['backoffBaseMs', 'Backoff base (ms)', 'number'],
      ['backoffMaxMs', 'Backoff max (ms)', 'number'],
      ['budgetRatio', 'Budget ratio', 'number'],
      ['budgetMinPerSecond', 'Budget min / s', 'number'],
    ],
  },
  {
    key: 'circuitBreaker',
    title: 'Circuit breaker',
    fields: [
      ['errorThresholdPercent', 'Error threshold %', 'number'],
      ['requestVolumeThreshold', 'Request volume threshold', 'number'],
      ['windowMs', 'Window (ms)', 'number'],
      ['sleepWindowMs', 'Sleep window (ms)', 'number'],
    ],
  },
  {
    key: 'outlier',
    title: 'Outlier ejection',
    fields: [
      ['consecutiveErrors', 'Consecutive errors', 'number'],
      ['baseEjectionMs', 'Base ejection (ms)', 'number'],
      ['maxEjectionPercent', 'Max ejection %', 'number'],
    ],
  },
  {
    key: 'rateLimit',
    title: 'Rate limit',
    fields: [
      ['requestsPerSecond', 'Requests / s', 'number'],
      ['burst', 'Burst', 'number'],
      ['perSourceRequestsPerSecond', 'Per caller requests / s', 'number'],
    ],
  },
  {
    key: 'fault',
    title: 'Fault injection',
    fields: [
      ['delay.fixedDelayMs', 'Delay (ms)', 'number'],
      ['delay.percent', 'Delay %', 'number'],
      ['abort.httpStatus', 'Abort status', 'number'],
      ['abort.percent', 'Abort %', 'number'],
    ],
  },
  {
    key: 'healthCheck',
    title: 'Active health check',
    fields: [
      ['path', 'Path', 'text'],
      ['intervalMs', 'Interval (ms)', 'number'],
      ['timeoutMs', 'Timeout (ms)', 'number'],
      ['healthyThreshold', 'Healthy threshold', 'number'],
      ['unhealthyThreshold', 'Unhealthy threshold', 'number'],
    ],
  },
];

function at(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

function setAt(obj: Record<string, unknown>, path: string, v: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  if (v === undefined) delete o[keys.at(-1)!];
  else o[keys.at(-1)!] = v;
}

/** Drops objects left empty once the form's fields were taken out. */
function prune(o: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      prune(v as Record<string, unknown>);
      if (Object.keys(v).length === 0) delete o[k];
    }
  }
  return o;
}

const show = (v: unknown) => (v === undefined ? '' : Array.isArray(v) ? v.join(', ') : String(v));

function control(path: string, label: string, kind: Kind, value: unknown, effective: unknown): HTMLElement {
  if (kind === 'bool') {
    const box = h('input', { type: 'checkbox', 'data-field': path, checked: value === true });
    return h('div', { class: 'field' }, h('label', { class: 'check' }, box, label), h('div', { class: 'field-error', role: 'alert', 'data-error-for': path, hidden: true }));
  }
  const placeholder = show(effective);
  if (Array.isArray(kind)) {
    return field(label, h('select', { value: show(value) }, h('option', { value: '' }, placeholder || '(not set)'), kind.map((k) => h('option', { value: k }, k))), { field: path });
  }
  return field(label, h('input', { value: show(value), placeholder, autocomplete: 'off', inputmode: kind === 'number' ? 'decimal' : undefined }), {
    field: path,
    hint: kind === 'list' ? 'comma separated, e.g. 5xx, connect-failure' : undefined,
  });
}

function readControl(form: HTMLElement, path: string, kind: Kind): unknown {
  const el = form.querySelector<HTMLInputElement | HTMLSelectElement>(`[data-field="${CSS.escape(path)}"]`);
  if (!el) return undefined;
  if (kind === 'bool') return (el as HTMLInputElement).checked ? true : undefined;
  const v = el.value.trim();
  if (!v) return undefined;
  if (kind === 'number') return Number.isFinite(Number(v)) ? Number(v) : v; // a typo reaches the API, which names it
  if (kind === 'list')
    return v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  return v;
}

/** `etag` (from GET /v1/policies/:service) goes back as If-Match: a policy changed meanwhile gets 412, and `reload` reopens it. */
function policyForm(p: PolicyDetail, done: (saved: boolean) => void, etag: string | null = null, reload?: () => void): HTMLFormElement {
  const form = h(
    'form',
    { class: 'card form', id: 'policy-form', novalidate: true, 'aria-label': `Policy of ${p.service}` },
    h('h2', null, `Policy of ${p.service}`),
    h('p', { class: 'hint' }, 'Empty fields keep the default shown in grey. A section is sent only when one of its fields is set.'),
    banner(),
    h('div', { class: 'field-error', role: 'alert', 'data-error-for': 'policy', hidden: true }),
    h(
      'div',
      { class: 'sections' },
      SECTIONS.map((sec) =>
        h(
          'fieldset',
          null,
          h('legend', null, sec.title),
          h('div', { class: 'field-error', role: 'alert', 'data-error-for': sec.key, hidden: true }),
          h('div', { class: 'grid' }, sec.fields.map(([name, label, kind]) => control(`${sec.key}.${name}`, label, kind, at(p.spec, `${sec.key}.${name}`), at(p.effective, `${sec.key}.${name}`)))),
        ),
      ),
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Save policy'),
      h('button', { type: 'button', onclick: () => done(false) }, 'Close'),
    ),
    h('details', null, h('summary', null, 'Effective policy (JSON)'), h('pre', null, JSON.stringify(p.effective, null, 2))),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    // Start from the stored spec so fields this form does not show (e.g. fault.headers) are kept.
    const spec = structuredClone(p.spec ?? {}) as Record<string, unknown>;
    for (const sec of SECTIONS) for (const [name, , kind] of sec.fields) setAt(spec, `${sec.key}.${name}`, readControl(form, `${sec.key}.${name}`, kind));
    const btn = form.querySelector('button[type=submit]') as HTMLButtonElement;
    btn.disabled = true;
    try {
      await put<PolicyRecord>(`/v1/policies/${enc(p.service)}`, prune(spec) as PolicySpec, etag);
      flash(`Saved the policy of ${p.service}`);
      done(true);
    } catch (e) {
      showErrors(form, e, 'Not saved', reload);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

export const policiesPage: PageFactory = (params) => {
  const formBox = h('div');
  const list = h('div');
  const picker = h('select', { id: 'policy-service' });

  const open = async (service: string) => {
    if (!service) return mount(formBox);
    try {
      const { body: p, etag } = await getForEdit<PolicyDetail>(`/v1/policies/${enc(service)}`);
      mount(
        formBox,
        policyForm(
          p,
          (saved) => {
            if (saved) void open(service);
            else mount(formBox);
            void load();
          },
          etag,
          () => void open(service),
        ),
      );
    } catch (e) {
      mount(formBox, h('p', { class: 'error-text', role: 'alert' }, `Could not load the policy of ${service}: ${errorText(e)}`));
    }
  };

  const load = async () => {
    try {
      const [policies, services] = await Promise.all([get<PolicyRecord[]>('/v1/policies'), get<ServiceSummary[]>('/v1/services')]);
      const current = picker.value || params.get('service') || '';
      mount(picker, h('option', { value: '' }, 'Choose a service…'), services.map((s) => h('option', { value: s.name, selected: s.name === current }, s.name)));
      const set = policies.filter((p) => Object.keys(p.spec ?? {}).length);
      mount(
        list,
        set.length === 0
          ? emptyState('No policies set', 'Every service uses the defaults. Choose a service above to set its policy.')
          : h(
              'table',
              { class: 'data', 'aria-label': 'Policies' },
              h('thead', null, h('tr', null, ['Service', 'Sections', ''].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                null,
                set.map((p) =>
                  h(
                    'tr',
                    { 'data-policy': p.service },
                    h('th', { scope: 'row' }, p.service),
                    h('td', null, Object.keys(p.spec).map((k) => h('span', { class: 'chip', title: JSON.stringify(p.spec[k]) }, k))),
                    h(
                      'td',
                      { class: 'row-actions' },
                      h('button', { type: 'button', class: 'small', 'aria-label': `Edit policy of ${p.service}`, onclick: () => ((picker.value = p.service), void open(p.service)) }, 'Edit'),
                      confirmButton('Delete', `Delete policy of ${p.service}`, async () => {
                        try {
                          await del(`/v1/policies/${enc(p.service)}`);
                          flash(`Deleted the policy of ${p.service}: defaults apply`);
                        } catch (e) {
                          flash(`Not deleted: ${errorText(e)}`, 'error');
                        }
                        mount(formBox);
                        await load();
                      }),
                    ),
                  ),
                ),
              ),
            ),
      );
    } catch (e) {
      mount(list, h('p', { class: 'error-text', role: 'alert' }, `Could not load policies: ${errorText(e)}`));
    }
  };

  picker.addEventListener('change', () => void open(picker.value));
  void load().then(() => {
    if (picker.value) void open(picker.value);
  });
  const el = h(
    'div',
    { class: 'page' },
    h('h1', null, 'Policies'),
    h('div', { class: 'toolbar' }, h('label', { for: 'policy-service' }, 'Edit the policy of'), picker),
    formBox,
    h('h2', null, 'Services with a policy'),
    list,
  );
  return { title: 'Policies', el };
};
