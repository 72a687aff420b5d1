import { authHeaders, setToken, takeReturn } from '../auth';
import { field, h } from '../dom';
import type { PageFactory } from '../page';
import { feed } from '../traffic-feed';

/** Asks for the admin token when the API answers 401; checks it against the API before keeping it. */
export const loginPage: PageFactory = (params) => {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const message = h('p', { class: 'form-banner', role: 'alert', hidden: !params.has('refused') }, 'The saved token was refused: enter it again.');
  const form = h(
    'form',
    { class: 'card form login', novalidate: true, 'aria-labelledby': 'login-h' },
    h('h1', { id: 'login-h' }, 'Sign in'),
    h('p', null, 'This Mesher requires its admin token (', h('code', null, '--admin-token'), ' / ', h('code', null, 'MESHER_ADMIN_TOKEN'), ').'),
    message,
    field('Admin token', input, { hint: 'Kept in this tab only (sessionStorage) and sent as an Authorization: Bearer header.' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    const say = (text: string) => {
      message.textContent = text;
      message.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    };
    if (!token) return say('Enter the admin token.');
    let status = 0;
    try {
      // A direct call: a refusal here is an answer for this form, not a reason to navigate.
      status = (await fetch('/v1/services', { headers: { accept: 'application/json', ...authHeaders(), authorization: `Bearer ${token}` } })).status;
    } catch {
      return say('The Mesher admin API did not answer (is Mesher running?).');
    }
    if (status === 401) return say('That token was refused.');
    if (status >= 500) return say(`The admin API answered ${status}; try again.`);
    setToken(token);
    feed.restart();
    location.hash = takeReturn();
  });
  queueMicrotask(() => input.focus());
  return { title: 'Sign in', el: h('div', { class: 'page narrow' }, form) };
};
