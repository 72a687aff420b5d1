import { enc, errorText, get, post } from '../api';
import { h, mount } from '../dom';
import { fmtAgo, fmtClock } from '../format';
import type { Revision, RevisionDiff, RevisionPage, RollbackResult } from '../types';
import { changesTable } from './revision-diff';

/**
 * The confirmation step of a rollback: a modal <dialog> in the page (not window.confirm) that shows what the
 * rollback would change, from the current configuration to the one after the chosen revision, before anything
 * is applied. Resolves with the API's answer, or null when the user cancels.
 */
export function confirmRollback(rev: Revision): Promise<RollbackResult | null> {
  return new Promise((resolve) => {
    const preview = h('div', { class: 'dialog-body' }, h('p', { class: 'muted' }, 'Working out what would change…'));
    const problem = h('p', { class: 'form-banner', role: 'alert', hidden: true });
    const confirm = h('button', { type: 'button', class: 'primary danger-fill' }, `Roll back to #${rev.id}`);
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const dialog = h(
      'dialog',
      { class: 'dialog', id: 'rollback-dialog', 'aria-labelledby': 'rollback-h', 'aria-describedby': 'rollback-what' },
      h('h2', { id: 'rollback-h' }, `Roll back to revision #${rev.id}?`),
      h(
        'p',
        { id: 'rollback-what' },
        'The configuration (services, instances, routes, policies) goes back to how it was after ',
        h('b', null, `#${rev.id}`),
        ` — “${rev.summary}” by ${rev.actor}, ${fmtClock(rev.at, true)} (${fmtAgo(rev.at)}). The rollback is recorded as a new revision, so it can be undone the same way.`,
      ),
      problem,
      preview,
      h('div', { class: 'actions' }, confirm, cancel),
    );
    let result: RollbackResult | null = null;
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    cancel.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', async () => {
      confirm.disabled = cancel.disabled = true;
      problem.hidden = true;
      try {
        result = await post<RollbackResult>(`/v1/revisions/${enc(String(rev.id))}/rollback`, undefined);
        dialog.close();
      } catch (e) {
        problem.textContent = `Not rolled back: ${errorText(e)}`;
        problem.hidden = false;
      } finally {
        confirm.disabled = cancel.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus(); // the safe choice has the focus: Enter does not roll back by accident

    void (async () => {
      try {
        const latest = (await get<RevisionPage>('/v1/revisions?offset=0&limit=1')).items[0];
        if (!latest || latest.id === rev.id) {
          return mount(preview, h('p', { 'data-preview': 'none' }, `#${rev.id} is the current revision: nothing would change.`));
        }
        const diff = await get<RevisionDiff>(`/v1/revisions/${latest.id}/diff/${rev.id}`);
        mount(
          preview,
          diff.changes.length === 0
            ? h('p', { 'data-preview': 'none' }, `The current configuration (#${latest.id}) already matches #${rev.id}: nothing would change.`)
            : [h('p', { 'data-preview': 'changes' }, `From the current #${latest.id}, the rollback would make ${diff.changes.length} change${diff.changes.length === 1 ? '' : 's'}:`), changesTable(diff.changes, 'Changes the rollback would make')],
        );
      } catch (e) {
        mount(preview, h('p', { class: 'muted' }, `Could not preview the changes (${errorText(e)}); the rollback can still be applied.`));
      }
    })();
  });
}
