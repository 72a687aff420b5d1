/** A tiny element builder: enough to keep pages declarative without a framework. */

type AttrValue = string | number | boolean | null | undefined | ((ev: never) => void);
export type Attrs = Record<string, AttrValue>;
export type Child = Node | string | number | null | undefined | false | Child[];

function apply(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
    } else if (k === 'value' && (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement)) {
      // The property, not the attribute: a select's value needs its options, set after children are appended.
      el.value = String(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  append(el, children);
  apply(el, attrs);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  append(el, children);
  apply(el, attrs);
  return el;
}

/** Replaces an element's children. */
export function mount(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let ids = 0;
/** A unique id for label/input pairs. */
export const uid = (prefix = 'f'): string => `${prefix}-${++ids}`;

/** A labelled form control; `field` is the API's field path, so validation errors land next to it. */
export function field(label: string, control: HTMLElement, opts: { field?: string; hint?: string } = {}): HTMLElement {
  const id = control.id || uid();
  control.id = id;
  const errId = `${id}-err`;
  const describedBy = [errId];
  let hint: HTMLElement | null = null;
  if (opts.hint) {
    hint = h('small', { class: 'hint', id: `${id}-hint` }, opts.hint);
    describedBy.push(hint.id);
  }
  control.setAttribute('aria-describedby', describedBy.join(' '));
  if (opts.field) control.dataset.field = opts.field;
  return h(
    'div',
    { class: 'field', 'data-field-wrap': opts.field },
    h('label', { for: id }, label),
    control,
    hint,
    h('div', { class: 'field-error', id: errId, role: 'alert', 'data-error-for': opts.field, hidden: true }),
  );
}

/** A short-lived status message at the top of the page. */
export function flash(text: string, kind: 'ok' | 'error' = 'ok'): void {
  const host = document.getElementById('flash');
  if (!host) return;
  const el = h('div', { class: `flash flash-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  host.replaceChildren(el);
  setTimeout(() => el.remove(), 5000);
}

/** A two-step button for destructive actions: the first click arms it, the second (within 4 s) acts. */
export function confirmButton(label: string, aria: string, act: () => Promise<void> | void): HTMLButtonElement {
  let armed: ReturnType<typeof setTimeout> | null = null;
  const btn = h('button', { type: 'button', class: 'danger small', 'aria-label': aria }, label);
  btn.addEventListener('click', () => {
    if (!armed) {
      btn.textContent = 'Confirm';
      btn.classList.add('armed');
      armed = setTimeout(() => {
        armed = null;
        btn.textContent = label;
        btn.classList.remove('armed');
      }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    btn.classList.remove('armed');
    btn.textContent = label;
    btn.disabled = true;
    void Promise.resolve(act()).finally(() => (btn.disabled = false));
  });
  return btn;
}

export function emptyState(title: string, detail?: string): HTMLElement {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), detail ? h('p', null, detail) : null);
}
