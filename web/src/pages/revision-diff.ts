import { h } from '../dom';
import type { ConfigChange } from '../types';

/**
 * A configuration diff as a table: one row per service, instance, route or policy added, removed or changed. A
 * change lists only the fields that differ (`timeout.requestMs: 3000 → 2000`), not two whole objects to compare
 * by eye.
 */

const OP: Record<ConfigChange['op'], [cls: string, text: string]> = {
  add: ['ok', 'added'],
  remove: ['bad', 'removed'],
  change: ['warn', 'changed'],
};

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{a: {b: 1}, c: [1]}` -> {'a.b': '1', c: '[1]'}; leaves are JSON text. */
export function flatten(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (isPlain(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (v !== undefined) {
    out.set(prefix || '(value)', JSON.stringify(v));
  }
  return out;
}

/** The fields that differ between two versions of an object, in a stable order. */
export function fieldChanges(before: unknown, after: unknown): Array<[path: string, before: string | undefined, after: string | undefined]> {
  const a = flatten(before);
  const b = flatten(after);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths.filter((p) => a.get(p) !== b.get(p)).map((p) => [p, a.get(p), b.get(p)]);
}

function details(c: ConfigChange): HTMLElement {
  if (c.op === 'change') {
    return h(
      'ul',
      { class: 'field-changes' },
      fieldChanges(c.before, c.after).map(([p, x, y]) =>
        h('li', null, h('code', null, p), ': ', x === undefined ? h('i', { class: 'muted' }, 'unset') : h('del', null, x), ' → ', y === undefined ? h('i', { class: 'muted' }, 'unset') : h('ins', null, y)),
      ),
    );
  }
  return h('pre', { class: 'compact' }, JSON.stringify(c.op === 'add' ? c.after : c.before, null, 1));
}

export function changesTable(changes: ConfigChange[], label: string): HTMLElement {
  return h(
    'table',
    { class: 'data diff', 'aria-label': label },
    h('thead', null, h('tr', null, ['Change', 'Kind', 'Name', 'Details'].map((c) => h('th', { scope: 'col' }, c)))),
    h(
      'tbody',
      null,
      changes.map((c) =>
        h(
          'tr',
          { 'data-op': c.op, 'data-kind': c.kind, 'data-key': c.key },
          h('td', null, h('span', { class: `badge h-${OP[c.op][0]}` }, OP[c.op][1])),
          h('td', null, c.kind),
          h('th', { scope: 'row' }, h('code', null, c.key)),
          h('td', null, details(c)),
        ),
      ),
    ),
  );
}
