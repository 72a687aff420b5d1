import { ApiError, enc, post, put } from '../api';
import { field, h, uid } from '../dom';
import { pairsText, parsePairs } from '../format';
import { banner, clearErrors, errorSlot, numberOf, showErrors, textOf } from '../forms';
import type { FieldError, HeaderMatch, RouteRule } from '../types';

/**
 * Create or edit one route rule. Control names follow the API's field paths (`route[1].weight`,
 * `match.headers.x-canary.regex`) so its 422 messages land next to the right control; on failure the form stays
 * as the user left it.
 */

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const KINDS = ['exact', 'prefix', 'regex'] as const;
type Kind = (typeof KINDS)[number];

interface Row {
  el: HTMLElement;
  sync(index: number): void;
}

function headerRow(name: string, m: HeaderMatch, onRemove: (r: Row) => void): Row & { read(): [string, HeaderMatch] | string | null } {
  const kindOf = (KINDS.find((k) => m[k] !== undefined) ?? 'exact') as Kind;
  const nameIn = h('input', { value: name, placeholder: 'x-canary', autocomplete: 'off', 'aria-label': 'Header name' });
  const kindIn = h('select', { 'aria-label': 'Match kind' }, KINDS.map((k) => h('option', { value: k, selected: k === kindOf }, k)));
  const valueIn = h('input', { value: m[kindOf] ?? '', placeholder: 'yes', autocomplete: 'off', 'aria-label': 'Header value' });
  const ci = h('input', { type: 'checkbox', checked: m.caseInsensitive === true });
  const rowErr = errorSlot('');
  const valErr = errorSlot('');
  const row: Row & { read(): [string, HeaderMatch] | string | null } = {
    el: h(
      'div',
      { class: 'row header-row' },
      nameIn,
      kindIn,
      valueIn,
      h('label', { class: 'check' }, ci, 'ignore case'),
      h('button', { type: 'button', class: 'small', 'aria-label': 'Remove header match', onclick: () => onRemove(row) }, 'Remove'),
      rowErr,
      valErr,
    ),
    // The API names header fields by header name, so the slots follow what is typed.
    sync() {
      const base = `match.headers.${nameIn.value.trim()}`;
      nameIn.dataset.field = base;
      rowErr.dataset.errorFor = base;
      valueIn.dataset.field = `${base}.${kindIn.value}`;
      valErr.dataset.errorFor = `${base}.${kindIn.value}`;
    },
    read() {
      const n = nameIn.value.trim();
      if (!n && !valueIn.value) return null;
      if (!n) return 'give the header name';
      return [n, { [kindIn.value]: valueIn.value, ...(ci.checked ? { caseInsensitive: true } : {}) }];
    },
  };
  return row;
}

function targetRow(tags: Record<string, string>, weight: number, onInput: (r: TargetRow, v: number) => void, onRemove: (r: TargetRow) => void): TargetRow {
  const tagsIn = h('input', { value: pairsText(tags), placeholder: 'version=2.0.0', autocomplete: 'off' });
  const slider = h('input', { type: 'range', min: 0, max: 100, step: 1, value: weight });
  const num = h('input', { inputmode: 'numeric', value: weight, class: 'weight-num' });
  const tagsLabel = h('label', null, 'Subset');
  const sliderLabel = h('label', { class: 'sr-only' }, 'Weight slider');
  const numLabel = h('label', null, 'Weight %');
  const slots = { row: errorSlot(''), tags: errorSlot(''), weight: errorSlot('') };
  for (const [label, input] of [
    [tagsLabel, tagsIn],
    [sliderLabel, slider],
    [numLabel, num],
  ] as const) {
    input.id = uid('t');
    label.htmlFor = input.id;
  }
  const removeBtn = h('button', { type: 'button', class: 'small' }, 'Remove');
  const r: TargetRow = {
    el: h(
      'div',
      { class: 'row target-row' },
      h('div', { class: 'cell-tags' }, tagsLabel, tagsIn, slots.tags),
      h('div', { class: 'cell-weight' }, sliderLabel, slider, numLabel, num, slots.weight),
      removeBtn,
      slots.row,
    ),
    get weight() {
      const n = Number(num.value);
      return Number.isFinite(n) ? n : 0;
    },
    setWeight(v: number) {
      num.value = String(v);
      slider.value = String(v);
    },
    sync(i: number) {
      const f = `route[${i}]`;
      slots.row.dataset.errorFor = f;
      tagsIn.dataset.field = slots.tags.dataset.errorFor = `${f}.tags`;
      num.dataset.field = slots.weight.dataset.errorFor = `${f}.weight`;
      tagsLabel.textContent = `Subset ${i + 1} tags`;
      sliderLabel.textContent = `Weight slider of subset ${i + 1}`;
      numLabel.replaceChildren('Weight %', h('span', { class: 'sr-only' }, ` of subset ${i + 1}`));
      removeBtn.setAttribute('aria-label', `Remove subset ${i + 1}`);
    },
    read(i: number) {
      const t = parsePairs(tagsIn.value, `route[${i}].tags`);
      const raw = num.value.trim();
      const w = raw === '' ? undefined : Number.isFinite(Number(raw)) ? Number(raw) : raw;
      return typeof t === 'string' ? t : { tags: t, weight: w };
    },
  };
  slider.addEventListener('input', () => {
    num.value = slider.value;
    onInput(r, Number(slider.value));
  });
  num.addEventListener('input', () => {
    const n = Number(num.value);
    if (num.value.trim() !== '' && Number.isFinite(n)) {
      slider.value = String(Math.max(0, Math.min(100, n)));
      onInput(r, n);
    } else onInput(r, NaN);
  });
  removeBtn.addEventListener('click', () => onRemove(r));
  return r;
}

interface TargetRow extends Row {
  readonly weight: number;
  setWeight(v: number): void;
  read(i: number): { tags: Record<string, string>; weight: number | string | undefined } | string;
}

/** Spreads 100 - v over the other subsets in proportion to their weights (a two-way canary: the other gets the rest). */
export function rebalance(weights: number[], changed: number, v: number): number[] {
  const out = [...weights];
  out[changed] = v;
  const others = out.map((_, i) => i).filter((i) => i !== changed);
  if (others.length === 0 || !(v >= 0 && v <= 100)) return out;
  const rest = 100 - v;
  const sum = others.reduce((a, i) => a + Math.max(0, out[i]), 0);
  let given = 0;
  for (const i of others) {
    out[i] = sum > 0 ? Math.floor((Math.max(0, out[i]) * rest) / sum) : i === others[0] ? rest : 0;
    given += out[i];
  }
  // Rounding leftovers go to the largest other subset.
  const big = others.reduce((a, i) => (out[i] > out[a] ? i : a), others[0]);
  out[big] += rest - given;
  return out;
}

/** `etag`: what GET /v1/routes/:id answered; sent back as If-Match, so a rule changed meanwhile gets 412, and `reload` reopens it. */
export function routeForm(rule: RouteRule | null, services: string[], done: (saved: RouteRule | null) => void, etag: string | null = null, reload?: () => void): HTMLFormElement {
  const headers: Array<ReturnType<typeof headerRow>> = [];
  const targets: TargetRow[] = [];
  const headerBox = h('div', { class: 'rows' });
  const targetBox = h('div', { class: 'rows' });
  const total = h('output', { class: 'total', 'aria-live': 'polite' });
  const keep = h('input', { type: 'checkbox', checked: true, id: uid('keep') });

  const updateTotal = () => {
    const sum = targets.reduce((a, t) => a + t.weight, 0);
    total.textContent = `Total ${sum}%${sum === 100 ? '' : ' — the API needs 100'}`;
    total.classList.toggle('h-warn', sum !== 100);
  };
  const syncAll = () => {
    headers.forEach((r, i) => r.sync(i));
    targets.forEach((r, i) => r.sync(i));
    updateTotal();
  };
  const addHeader = (name = '', m: HeaderMatch = {}) => {
    const r = headerRow(name, m, (x) => {
      headers.splice(headers.indexOf(x as (typeof headers)[number]), 1);
      x.el.remove();
      syncAll();
    });
    headers.push(r);
    headerBox.append(r.el);
    syncAll();
  };
  const onWeight = (r: TargetRow, v: number) => {
    if (keep.checked && Number.isFinite(v)) {
      const next = rebalance(
        targets.map((t) => t.weight),
        targets.indexOf(r),
        v,
      );
      targets.forEach((t, i) => t !== r && t.setWeight(next[i]));
    }
    updateTotal();
  };
  const addTarget = (tags: Record<string, string>, weight: number) => {
    const r = targetRow(tags, weight, onWeight, (x) => {
      targets.splice(targets.indexOf(x), 1);
      x.el.remove();
      syncAll();
    });
    targets.push(r);
    targetBox.append(r.el);
    syncAll();
  };

  const m = rule?.match ?? {};
  const serviceIn = h('input', { value: rule?.service ?? '', list: 'route-services', autocomplete: 'off', placeholder: 'cart' });
  const precedenceIn = h('input', { value: rule?.precedence ?? 0, inputmode: 'numeric' });
  const sourceIn = h('input', { value: m.source ?? '', autocomplete: 'off', placeholder: 'any caller' });
  const pathIn = h('input', { value: m.pathPrefix ?? '', autocomplete: 'off', placeholder: '/api' });
  const methodBoxes = METHODS.map((x) => h('input', { type: 'checkbox', value: x, checked: (m.methods ?? []).map((y) => y.toUpperCase()).includes(x) }));
  const policyIn = h('textarea', { rows: 3, placeholder: '{"timeout": {"requestMs": 2000}}' }, rule?.policy ? JSON.stringify(rule.policy, null, 2) : '');

  const form = h(
    'form',
    { class: 'card form', id: 'route-form', novalidate: true, 'aria-label': rule ? `Edit route rule ${rule.id}` : 'New route rule' },
    h('h2', null, rule ? 'Edit route rule' : 'New route rule'),
    banner(),
    errorSlot('rule'),
    h('datalist', { id: 'route-services' }, services.map((x) => h('option', { value: x }))),
    h('div', { class: 'grid' }, field('Destination service', serviceIn, { field: 'service' }), field('Precedence (higher wins)', precedenceIn, { field: 'precedence' })),
    h(
      'fieldset',
      null,
      h('legend', null, 'Match (all optional)'),
      errorSlot('match'),
      h('div', { class: 'grid' }, field('Caller service', sourceIn, { field: 'match.source' }), field('Path prefix', pathIn, { field: 'match.pathPrefix' })),
      h('div', { class: 'field', role: 'group', 'aria-label': 'Methods' }, h('span', { class: 'label' }, 'Methods'), h('div', { class: 'checks' }, methodBoxes.map((b) => h('label', { class: 'check' }, b, b.value))), errorSlot('match.methods')),
      h('div', { class: 'label' }, 'Headers'),
      headerBox,
      errorSlot('match.headers'),
      h('button', { type: 'button', class: 'small', onclick: () => addHeader() }, 'Add header match'),
    ),
    h(
      'fieldset',
      null,
      h('legend', null, 'Route: weighted subsets'),
      h('p', { class: 'hint' }, 'Each subset selects instances by tags (version=… or any label); weights are percentages.'),
      targetBox,
      errorSlot('route'),
      h('div', { class: 'row' }, total, h('label', { class: 'check', for: keep.id }, keep, 'keep the total at 100'), h('button', { type: 'button', class: 'small', onclick: () => addTarget({ version: '' }, 0) }, 'Add subset')),
    ),
    h('details', { open: rule?.policy ? true : undefined }, h('summary', null, 'Policy override for this rule (JSON, optional)'), field('Policy', policyIn, { field: 'policy' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, rule ? 'Save rule' : 'Create rule'), h('button', { type: 'button', onclick: () => done(null) }, 'Cancel')),
  );

  for (const [name, hm] of Object.entries(m.headers ?? {})) addHeader(name, hm);
  for (const t of rule?.route ?? [
    { tags: { version: '1.0.0' }, weight: 90 },
    { tags: { version: '2.0.0' }, weight: 10 },
  ])
    addTarget(t.tags, t.weight);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    syncAll();
    clearErrors(form);
    const local: FieldError[] = [];
    const hm: Record<string, HeaderMatch> = {};
    headers.forEach((r) => {
      const v = r.read();
      if (typeof v === 'string') local.push({ field: 'match.headers', message: `header match: ${v}` });
      else if (v) hm[v[0]] = v[1];
    });
    const route = targets.map((t, i) => {
      const v = t.read(i);
      if (typeof v === 'string') local.push({ field: `route[${i}].tags`, message: v });
      return v;
    });
    let policy: unknown;
    const policyText = policyIn.value.trim();
    if (policyText) {
      try {
        policy = JSON.parse(policyText);
      } catch (e) {
        local.push({ field: 'policy', message: `policy is not valid JSON: ${(e as Error).message}` });
      }
    }
    if (local.length) return showErrors(form, new ApiError(0, 'INVALID', 'check the marked fields', local));
    const methods = methodBoxes.filter((b) => b.checked).map((b) => b.value);
    const match = {
      ...(textOf(form, 'match.source') ? { source: textOf(form, 'match.source') } : {}),
      ...(textOf(form, 'match.pathPrefix') ? { pathPrefix: textOf(form, 'match.pathPrefix') } : {}),
      ...(methods.length ? { methods } : {}),
      ...(Object.keys(hm).length ? { headers: hm } : {}),
    };
    const body = {
      service: serviceIn.value.trim(),
      precedence: numberOf(form, 'precedence') ?? 0,
      ...(Object.keys(match).length ? { match } : {}),
      route,
      ...(policy !== undefined ? { policy } : {}),
    };
    const btn = form.querySelector('button[type=submit]') as HTMLButtonElement;
    btn.disabled = true;
    try {
      done(rule ? await put<RouteRule>(`/v1/routes/${enc(rule.id)}`, body, etag) : await post<RouteRule>('/v1/routes', body));
    } catch (e) {
      showErrors(form, e, 'Not saved', reload);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}
