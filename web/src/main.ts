import './style.css';
import { get } from './api';
import { clearToken, getToken, onUnauthorized, rememberReturn } from './auth';
import { emptyState, h, mount } from './dom';
import { every, type Page, type PageFactory } from './page';
import { edgePage } from './pages/edge.page';
import { historyPage } from './pages/history.page';
import { loginPage } from './pages/login.page';
import { overviewPage } from './pages/overview.page';
import { policiesPage } from './pages/policies.page';
import { routesPage } from './pages/routes.page';
import { servicesPage } from './pages/services.page';
import { trafficPage } from './pages/traffic.page';
import { registryBadge } from './registry-status';
import { feed } from './traffic-feed';

/** The shell: header with navigation and readiness, a hash router, and the 401 -> sign-in flow. */

const NAV: Array<[path: string, label: string, page: PageFactory]> = [
  ['', 'Overview', overviewPage],
  ['services', 'Services', servicesPage],
  ['traffic', 'Traffic', trafficPage],
  ['routes', 'Routes', routesPage],
  ['policies', 'Policies', policiesPage],
  ['edge', 'Edge', edgePage],
  ['history', 'History', historyPage],
];
const PAGES = new Map<string, PageFactory>([...NAV.map(([p, , f]): [string, PageFactory] => [p, f]), ['login', loginPage]]);

const notFound: PageFactory = () => ({ title: 'Not found', el: h('div', { class: 'page' }, emptyState('No such page', 'Use the navigation above.')) });

const navLinks = NAV.map(([path, label]) => h('a', { href: `#/${path}`, 'data-path': path }, label));
const nav = h('nav', { 'aria-label': 'Main' }, navLinks);
const ready = h('span', { class: 'ready', role: 'status' }, '…');
const registry = registryBadge();
const version = h('span', { class: 'version muted' });
const signOut = h('button', { type: 'button', class: 'small link', hidden: true }, 'Sign out');
const alertBar = h('div', { class: 'alert-bar', role: 'alert', hidden: true });
const main = h('main', { id: 'main', tabindex: -1 });

mount(
  document.getElementById('app')!,
  h('a', { class: 'skip', href: '#main', onclick: (ev: Event) => (ev.preventDefault(), main.focus()) }, 'Skip to content'),
  h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'Mesher'),
    nav,
    h('div', { class: 'top-right' }, registry.el, ready, version, signOut),
  ),
  alertBar,
  h('div', { id: 'flash', 'aria-live': 'polite' }),
  main,
);

let current: Page | null = null;

function route(): void {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const factory = PAGES.get(path) ?? notFound;
  current?.dispose?.();
  current = factory(new URLSearchParams(query));
  mount(main, current.el);
  document.title = `${current.title} · Mesher`;
  for (const a of navLinks) {
    if (a.dataset.path === path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  signOut.hidden = getToken() === null;
  nav.hidden = path === 'login';
  if (path !== 'login' && !version.textContent) void loadVersion();
}

async function loadVersion(): Promise<void> {
  try {
    version.textContent = `v${(await get<{ version: string }>('/v1/mesher/version')).version}`;
  } catch {
    // 401 is handled by the sign-in flow; an old Mesher without the call just shows no version
  }
}

onUnauthorized(() => {
  const refused = getToken() !== null;
  clearToken();
  feed.stop();
  if (location.hash.startsWith('#/login')) return;
  rememberReturn(location.hash);
  location.hash = refused ? '#/login?refused=1' : '#/login';
});

signOut.addEventListener('click', () => {
  clearToken();
  feed.stop();
  version.textContent = '';
  location.hash = '#/login';
});

/** Readiness from /health/ready (no token needed): a badge, and a bar naming what is down. */
every(10_000, async () => {
  let body: { status?: string; error?: Record<string, { message?: string; store?: string }> } = {};
  let ok = false;
  try {
    const res = await fetch('/health/ready', { headers: { accept: 'application/json' } });
    ok = res.ok;
    body = (await res.json().catch(() => ({}))) as typeof body;
  } catch {
    body = { error: { admin: { message: 'the admin API did not answer' } } };
  }
  ready.textContent = ok ? 'Ready' : 'Not ready';
  ready.className = `ready ${ok ? 'h-ok' : 'h-bad'}`;
  const down = Object.entries(body.error ?? {}).map(([k, v]) => `${k}${v.message ? `: ${v.message}` : ''}`);
  alertBar.hidden = ok || down.length === 0;
  alertBar.textContent = down.length ? `Mesher is not ready — ${down.join('; ')}. Serving from the last known state where possible.` : '';
});

/** Which registry, and whether it is connected (needs the token, so not on the sign-in page). */
every(5000, async () => {
  if (!location.hash.startsWith('#/login')) await registry.refresh();
});

window.addEventListener('hashchange', route);
route();
