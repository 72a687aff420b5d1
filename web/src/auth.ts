/**
 * The admin token lives in sessionStorage (gone when the tab closes) and travels only as an
 * `Authorization: Bearer` header, never as a cookie, so other sites cannot ride on it (no CSRF).
 */
const KEY = 'mesher.adminToken';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

export function authHeaders(): Record<string, string> {
  const t = getToken();
  return t ? { authorization: `Bearer ${t}` } : {};
}

type Listener = () => void;
const listeners = new Set<Listener>();

/** Called by the API client on any 401; the app answers by showing the login page. */
export function onUnauthorized(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function reportUnauthorized(): void {
  for (const fn of listeners) fn();
}

/** Where to go back to after signing in. */
let returnTo = '#/';
export const rememberReturn = (hash: string): void => void (returnTo = hash && !hash.startsWith('#/login') ? hash : '#/');
export const takeReturn = (): string => returnTo;
