import { ApiError, errorText, get } from '../api';
import { emptyState, field, flash, h, mount } from '../dom';
import { fmtAgo, fmtClock } from '../format';
import { disposer, every, type PageFactory } from '../page';
import type { ConfigChange, Revision, RevisionDiff, RevisionPage } from '../types';
import { changesTable } from './revision-diff';
import { confirmRollback } from './rollback-dialog';

/**
 * Every admin write is a revision (who, when, what). The page lists them newest first, a page at a time, shows
 * what a revision changed (the diff from the one before it, or between any two), and rolls back to one after a
 * confirmation that previews the changes.
 */

const LIMIT = 20;

const isChangeList = (v: unknown): v is ConfigChange[] =>
  Array.isArray(v) && v.every((c) => c && typeof c === 'object' && 'op' in c && 'kind' in c && 'key' in c);

/** What the write itself recorded: a list of changes (config apply, rollback) or free-form before/after. */
function recorded(rev: Revision, open: boolean): HTMLElement {
  return h(
    'details',
    { open: open || undefined, class: 'recorded' },
    h('summary', null, `As recorded by revision #${rev.id}`),
    isChangeList(rev.diff) && rev.diff.length ? changesTable(rev.diff, `Recorded changes of revision ${rev.id}`) : h('pre', null, JSON.stringify(rev.diff, null, 2)),
  );
}

export const historyPage: PageFactory = (params) => {
  const d = disposer();
  let offset = 0;
  let current: RevisionPage | null = null;
  let selected = Number(params.get('rev')) || null;
  let busy = false;

  const list = h('div');
  const pager = h('div', { class: 'toolbar pager' });
  const diffHead = h('h2', { id: 'diff-h' }, 'Changes');
  const diffBody = h('div', { id: 'revision-diff' }, h('p', { class: 'muted' }, 'Choose a revision above (Changes), or compare any two below.'));
  const fromIn = h('input', { inputmode: 'numeric', autocomplete: 'off', placeholder: '1', size: 6 });
  const toIn = h('input', { inputmode: 'numeric', autocomplete: 'off', placeholder: '2', size: 6 });

  const markSelected = () => {
    for (const tr of list.querySelectorAll<HTMLElement>('tr[data-revision]')) tr.classList.toggle('selected', Number(tr.dataset.revision) === selected);
  };

  /** The diff between two revisions; `rev` (the newer one) adds what it recorded itself. */
  const showDiff = async (from: number | null, to: number, rev?: Revision) => {
    selected = rev ? rev.id : null;
    markSelected();
    fromIn.value = from === null ? '' : String(from);
    toIn.value = String(to);
    diffHead.textContent = from === null ? `Changes made by revision #${to}` : rev ? `Changes made by revision #${to} (compared with #${from})` : `Changes from revision #${from} to #${to}`;
    mount(diffBody, h('p', { class: 'muted' }, 'Loading…'));
    if (from === null) {
      return mount(diffBody, h('p', { class: 'muted' }, 'The first revision: nothing before it to compare with.'), rev ? recorded(rev, true) : null);
    }
    let diff: RevisionDiff;
    try {
      diff = await get<RevisionDiff>(`/v1/revisions/${from}/diff/${to}`);
    } catch (e) {
      // The revision before may be gone (history retention): what the write recorded still tells the story.
      const gone = e instanceof ApiError && e.status === 404;
      return mount(diffBody, h('p', { class: gone && rev ? 'muted' : 'error-text', role: 'alert' }, `Could not compare #${from} with #${to}: ${errorText(e)}`), rev ? recorded(rev, true) : null);
    }
    mount(
      diffBody,
      diff.changes.length
        ? changesTable(diff.changes, `Changes from revision ${from} to ${to}`)
        : h('p', { class: 'muted', 'data-diff': 'empty' }, `No change to services, instances, routes or policies between #${from} and #${to}${rev ? ' (ingress and egress rules are not part of this comparison: see what the revision recorded)' : ''}.`),
      rev ? recorded(rev, diff.changes.length === 0) : null,
    );
  };

  const rollback = async (rev: Revision) => {
    busy = true;
    try {
      const res = await confirmRollback(rev);
      if (!res) return;
      flash(`Rolled back to #${rev.id}: ${res.changes.length} change${res.changes.length === 1 ? '' : 's'}, recorded as revision #${res.revision}`);
      offset = 0;
      await load();
      const made = current?.items.find((x) => x.id === res.revision);
      if (made) await showDiff(made.id > 1 ? made.id - 1 : null, made.id, made);
    } finally {
      busy = false;
    }
  };

  const row = (rev: Revision, newest: boolean) =>
    h(
      'tr',
      { 'data-revision': rev.id, 'data-actor': rev.actor, class: rev.id === selected ? 'selected' : undefined },
      h('th', { scope: 'row' }, `#${rev.id}`),
      h('td', { class: 'nowrap', title: new Date(rev.at).toISOString() }, fmtClock(rev.at, true), h('div', { class: 'small muted' }, fmtAgo(rev.at))),
      h('td', null, h('span', { class: 'chip', 'data-col': 'actor' }, rev.actor)),
      h('td', { 'data-col': 'summary' }, rev.summary, newest && offset === 0 ? h('span', { class: 'badge h-ok current' }, 'current') : null),
      h(
        'td',
        { class: 'row-actions' },
        h('button', { type: 'button', class: 'small', 'aria-label': `Show changes of revision #${rev.id}`, onclick: () => void showDiff(rev.id > 1 ? rev.id - 1 : null, rev.id, rev) }, 'Changes'),
        newest && offset === 0
          ? null
          : h('button', { type: 'button', class: 'small danger', 'aria-label': `Roll back to revision #${rev.id}`, onclick: () => void rollback(rev) }, 'Roll back…'),
      ),
    );

  const load = async () => {
    try {
      current = await get<RevisionPage>(`/v1/revisions?offset=${offset}&limit=${LIMIT}`);
    } catch (e) {
      mount(list, h('p', { class: 'error-text', role: 'alert' }, `Could not load the history: ${errorText(e)}`));
      mount(pager);
      return;
    }
    const { total, items } = current;
    if (total === 0) {
      mount(list, emptyState('No revisions yet', 'Every change made through the admin API, the CLI or this dashboard is recorded here.'));
      mount(pager);
      return;
    }
    if (items.length === 0 && offset > 0) {
      // The history shrank under us (retention): go back to the first page.
      offset = 0;
      return load();
    }
    mount(
      list,
      h(
        'table',
        { class: 'data', 'aria-label': 'Revisions' },
        h('thead', null, h('tr', null, ['Revision', 'When', 'Actor', 'Summary', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, items.map((rev, i) => row(rev, i === 0))),
      ),
    );
    const prev = h('button', { type: 'button', class: 'small', disabled: offset === 0, onclick: () => ((offset = Math.max(0, offset - LIMIT)), void load()) }, '← Newer');
    const next = h('button', { type: 'button', class: 'small', disabled: offset + items.length >= total, onclick: () => ((offset += LIMIT), void load()) }, 'Older →');
    mount(pager, prev, h('span', { class: 'muted', 'data-range': '' }, `${offset + 1}–${offset + items.length} of ${total}`), next);
  };

  const compare = h(
    'form',
    { class: 'toolbar compare', novalidate: true, 'aria-label': 'Compare two revisions' },
    field('From revision', fromIn),
    field('To revision', toIn),
    h('button', { type: 'submit' }, 'Compare'),
  );
  compare.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const [a, b] = [Number(fromIn.value.trim()), Number(toIn.value.trim())];
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 1 || b < 1) {
      return mount(diffBody, h('p', { class: 'error-text', role: 'alert' }, 'Give two revision numbers (whole numbers from 1).'));
    }
    void showDiff(a, b);
  });

  // New revisions appear on their own while the newest page is shown (not under an open rollback dialog).
  d.add(every(10_000, () => (offset === 0 && !busy ? load() : undefined)));
  if (selected) {
    const id = selected;
    void get<Revision>(`/v1/revisions/${id}`).then(
      (rev) => showDiff(id > 1 ? id - 1 : null, id, rev),
      (e) => mount(diffBody, h('p', { class: 'error-text', role: 'alert' }, `Could not load revision #${id}: ${errorText(e)}`)),
    );
  }

  const el = h(
    'div',
    { class: 'page' },
    h('div', { class: 'section-head' }, h('h1', null, 'History'), h('span', { class: 'spacer' }), h('button', { type: 'button', onclick: () => void load() }, 'Refresh')),
    h('p', { class: 'muted' }, 'Every change made through the admin API, the CLI or this dashboard, newest first. Sidecar registrations and heartbeats are not recorded.'),
    pager,
    list,
    h('section', { 'aria-labelledby': 'diff-h', class: 'card' }, diffHead, compare, diffBody),
  );
  return { title: 'History', el, dispose: d.run };
};
