import { ApiError, errorText, isStale, STALE_MESSAGE } from './api';
import { h } from './dom';

/**
 * The API names each invalid field (`route[0].weight`, `retry.attempts`, `match.headers.x-canary.regex`);
 * controls carry the same path in data-field and error slots in data-error-for, so each message lands next to its
 * field. A message with no slot of its own goes to the nearest enclosing one (`route[0].weight` -> `route[0]` ->
 * `route`), else to the form's banner. The form itself is never reset on failure.
 */

/** A free-standing error slot for a group of controls (e.g. the weights as a whole). */
export function errorSlot(field: string): HTMLElement {
  return h('div', { class: 'field-error', role: 'alert', 'data-error-for': field, hidden: true });
}

export function banner(): HTMLElement {
  return h('div', { class: 'form-banner', role: 'alert', tabindex: -1, hidden: true });
}

/** `a.b[2].c` -> [`a.b[2].c`, `a.b[2]`, `a.b`, `a`] */
export function fieldCandidates(field: string): string[] {
  const out = [field];
  let f = field;
  for (;;) {
    const cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
    if (cut <= 0) break;
    f = f.slice(0, cut);
    out.push(f);
  }
  return out;
}

const attr = (name: string, value: string) => `[${name}="${CSS.escape(value)}"]`;

export function clearErrors(form: HTMLElement): void {
  for (const el of form.querySelectorAll<HTMLElement>('[data-error-for]')) {
    el.hidden = true;
    el.textContent = '';
  }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const b = form.querySelector<HTMLElement>('.form-banner');
  if (b) {
    b.hidden = true;
    b.textContent = '';
  }
}

/**
 * Shows why a save failed; returns nothing and keeps every value the user typed. A 412 (someone else changed the
 * object since the form was opened) says so, with a Reload button when the page can reopen the form fresh.
 */
export function showErrors(form: HTMLElement, err: unknown, what = 'Not saved', onReload?: () => void): void {
  clearErrors(form);
  if (isStale(err)) {
    const b = form.querySelector<HTMLElement>('.form-banner');
    if (!b) return;
    b.textContent = `${what}: ${STALE_MESSAGE} (412 PRECONDITION_FAILED). Your changes are still in the form.`;
    if (onReload) b.append(h('button', { type: 'button', class: 'small', onclick: onReload }, 'Reload'));
    b.hidden = false;
    b.focus();
    return;
  }
  const unplaced: string[] = [];
  let first: HTMLElement | null = null;
  const errors = err instanceof ApiError ? err.errors : [];
  for (const e of errors) {
    const slot = fieldCandidates(e.field)
      .map((f) => form.querySelector<HTMLElement>(attr('data-error-for', f)))
      .find((x): x is HTMLElement => x !== null);
    if (!slot) {
      unplaced.push(e.message);
      continue;
    }
    slot.hidden = false;
    slot.append(h('div', null, e.message));
    const control = form.querySelector<HTMLElement>(attr('data-field', slot.dataset.errorFor!));
    control?.setAttribute('aria-invalid', 'true');
    first ??= control ?? slot;
  }
  const b = form.querySelector<HTMLElement>('.form-banner');
  if (b) {
    const why =
      err instanceof ApiError && err.status > 0
        ? errors.length && unplaced.length === 0
          ? 'the API rejected the fields marked below.'
          : `${unplaced.length ? unplaced.join('; ') : err.message}`
        : errorText(err);
    b.textContent = `${what}: ${why}${err instanceof ApiError && err.status ? ` (${err.status} ${err.code})` : ''}`;
    b.hidden = false;
  }
  (first ?? b)?.focus?.();
}

/** A text input's value: trimmed, undefined when empty. */
export const textOf = (form: HTMLElement, f: string): string | undefined => {
  const el = form.querySelector<HTMLInputElement | HTMLSelectElement>(attr('data-field', f));
  const v = el?.value.trim();
  return v ? v : undefined;
};

/**
 * A numeric input's value: a number when it reads as one, the raw text when not (so the API's message explains
 * the mistake instead of the value vanishing), undefined when empty.
 */
export const numberOf = (form: HTMLElement, f: string): number | string | undefined => {
  const v = textOf(form, f);
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
};
