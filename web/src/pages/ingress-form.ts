import { enc, post, put } from '../api';
import { field, h } from '../dom';
import { banner, clearErrors, errorSlot, numberOf, showErrors, textOf } from '../forms';
import type { IngressRule } from '../types';

/**
 * Create or edit one ingress rule (edge traffic -> service). Controls carry the API's field names, so its 422
 * messages (host, pathPrefix, pathRegex, rewritePath, service, port) land next to them. An edit sends the ETag it
 * was opened with as If-Match: a rule changed by someone else meanwhile is refused (412), not overwritten.
 */
export function ingressForm(
  rule: IngressRule | null,
  etag: string | null,
  services: string[],
  done: (saved: IngressRule | null) => void,
  reload: () => void,
): HTMLFormElement {
  const input = (value: string | number | null | undefined, placeholder: string, list?: string) =>
    h('input', { value: value ?? '', placeholder, autocomplete: 'off', spellcheck: 'false', list });
  const form = h(
    'form',
    { class: 'card form', id: 'ingress-form', novalidate: true, 'aria-label': rule ? `Edit ingress rule ${rule.id}` : 'New ingress rule' },
    h('h2', null, rule ? 'Edit ingress rule' : 'New ingress rule'),
    banner(),
    errorSlot('rule'),
    h('datalist', { id: 'ingress-services' }, services.map((x) => h('option', { value: x }))),
    h(
      'div',
      { class: 'grid' },
      field('Host', input(rule?.host, 'shop.example.com'), { field: 'host', hint: 'exact, or a wildcard like *.example.com; empty: any host' }),
      field('Path prefix', input(rule?.pathPrefix, '/api'), { field: 'pathPrefix', hint: 'or a regex below, not both; empty: any path' }),
      field('Path regex', input(rule?.pathRegex, '^/v[0-9]+/'), { field: 'pathRegex', hint: 'a JavaScript regular expression' }),
      field('Rewrite path', input(rule?.rewritePath, '/'), { field: 'rewritePath', hint: 'replaces the matched prefix; empty: unchanged' }),
      field('Service', input(rule?.service, 'cart', 'ingress-services'), { field: 'service', hint: 'a registered service' }),
      field('Port', h('input', { value: rule?.port ?? '', placeholder: 'any', inputmode: 'numeric', autocomplete: 'off' }), { field: 'port', hint: 'optional' }),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, rule ? 'Save ingress rule' : 'Create ingress rule'), h('button', { type: 'button', onclick: () => done(null) }, 'Cancel')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const rewrite = textOf(form, 'rewritePath');
    const body = {
      host: textOf(form, 'host') ?? null,
      pathPrefix: textOf(form, 'pathPrefix') ?? null,
      pathRegex: textOf(form, 'pathRegex') ?? null,
      // '' (strip the prefix) cannot be typed into an empty box: an edit keeps it when the box stays empty.
      rewritePath: rewrite ?? (rule?.rewritePath === '' ? '' : null),
      service: textOf(form, 'service') ?? '',
      port: numberOf(form, 'port') ?? null,
    };
    const btn = form.querySelector('button[type=submit]') as HTMLButtonElement;
    btn.disabled = true;
    try {
      done(rule ? await put<IngressRule>(`/v1/ingress/${enc(rule.id)}`, body, etag) : await post<IngressRule>('/v1/ingress', body));
    } catch (e) {
      showErrors(form, e, 'Not saved', reload);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}
