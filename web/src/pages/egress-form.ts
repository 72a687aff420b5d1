import { ApiError, enc, post, put } from '../api';
import { field, h } from '../dom';
import { banner, clearErrors, errorSlot, showErrors, textOf } from '../forms';
import type { EgressRule } from '../types';

/**
 * Create or edit one egress rule (which outside hosts the mesh may call, on which ports, with which policy).
 * Field names follow the API's (`ports[1]`, `policy.timeout.requestMs`), so each message lands next to its
 * control; an edit sends If-Match with the ETag it was opened with.
 */
export function egressForm(rule: EgressRule | null, etag: string | null, done: (saved: EgressRule | null) => void, reload: () => void): HTMLFormElement {
  const tls = h('input', { type: 'checkbox', checked: rule?.tls === true, 'data-field': 'tls' });
  const policyIn = h('textarea', { rows: 4, placeholder: '{"timeout": {"requestMs": 3000}}' }, rule?.policy ? JSON.stringify(rule.policy, null, 2) : '');
  const form = h(
    'form',
    { class: 'card form', id: 'egress-form', novalidate: true, 'aria-label': rule ? `Edit egress rule ${rule.id}` : 'New egress rule' },
    h('h2', null, rule ? 'Edit egress rule' : 'New egress rule'),
    banner(),
    errorSlot('rule'),
    h(
      'div',
      { class: 'grid' },
      field('Host', h('input', { value: rule?.host ?? '', placeholder: 'api.partner.com', autocomplete: 'off', spellcheck: 'false' }), {
        field: 'host',
        hint: 'exact, or a wildcard like *.partner.com',
      }),
      field('Ports', h('input', { value: rule?.ports.join(', ') ?? '443', placeholder: '443', autocomplete: 'off' }), { field: 'ports', hint: 'comma separated' }),
      h('div', { class: 'field' }, h('span', { class: 'label' }, 'TLS'), h('label', { class: 'check' }, tls, 'the host speaks TLS (https)'), errorSlot('tls')),
    ),
    h('details', { open: rule?.policy ? true : undefined }, h('summary', null, 'Policy for calls to this host (JSON, optional)'), field('Policy', policyIn, { field: 'policy' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, rule ? 'Save egress rule' : 'Create egress rule'), h('button', { type: 'button', onclick: () => done(null) }, 'Cancel')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    let policy: unknown = null;
    const text = policyIn.value.trim();
    if (text) {
      try {
        policy = JSON.parse(text);
      } catch (e) {
        return showErrors(form, new ApiError(0, 'INVALID', 'check the marked fields', [{ field: 'policy', message: `policy is not valid JSON: ${(e as Error).message}` }]));
      }
    }
    const body = {
      host: textOf(form, 'host') ?? '',
      // A port that is not a number goes as typed, so the API names it (`ports[1] must be ...`).
      ports: (textOf(form, 'ports') ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
      tls: tls.checked,
      policy,
    };
    const btn = form.querySelector('button[type=submit]') as HTMLButtonElement;
    btn.disabled = true;
    try {
      done(rule ? await put<EgressRule>(`/v1/egress/${enc(rule.id)}`, body, etag) : await post<EgressRule>('/v1/egress', body));
    } catch (e) {
      showErrors(form, e, 'Not saved', reload);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}
