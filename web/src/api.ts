import { authHeaders, reportUnauthorized } from './auth';
import type { FieldError } from './types';

/** An admin API failure as the API describes it: `{statusCode, code, message, errors?}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

async function parseError(res: Response): Promise<ApiError> {
  let body: { code?: unknown; message?: unknown; errors?: unknown } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // Not JSON (a proxy in between, an old Mesher): the status says enough.
  }
  const errors = Array.isArray(body.errors)
    ? body.errors.filter((e): e is FieldError => typeof e?.field === 'string' && typeof e?.message === 'string')
    : [];
  return new ApiError(
    res.status,
    typeof body.code === 'string' ? body.code : `HTTP_${res.status}`,
    typeof body.message === 'string' && body.message ? body.message : `${res.status} ${res.statusText || 'error'}`,
    errors,
  );
}

/** Every write names the dashboard, so the revision history says who made the change. */
const ACTOR = { 'x-mesher-actor': 'dashboard' };

/** One call to the admin API, answering the body and the response's ETag; throws ApiError (status 0 when Mesher is unreachable). */
export async function callWithEtag<T>(
  method: string,
  path: string,
  body?: unknown,
  opts: { signal?: AbortSignal; ifMatch?: string | null } = {},
): Promise<{ body: T; etag: string | null }> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(method === 'GET' || method === 'HEAD' ? {} : ACTOR),
        ...(opts.ifMatch ? { 'if-match': opts.ifMatch } : {}),
        ...authHeaders(),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'UNREACHABLE', 'the Mesher admin API did not answer (is Mesher running?)');
  }
  if (res.status === 401) {
    const err = await parseError(res);
    reportUnauthorized();
    throw err;
  }
  if (!res.ok) throw await parseError(res);
  const etag = res.headers.get('etag');
  if (res.status === 204) return { body: undefined as T, etag };
  const text = await res.text();
  return { body: (text ? JSON.parse(text) : undefined) as T, etag };
}

export async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  return (await callWithEtag<T>(method, path, body, { signal })).body;
}

export const get = <T>(path: string, signal?: AbortSignal) => call<T>('GET', path, undefined, signal);
/** A read for an edit: the object and its ETag, to send back as If-Match on save. */
export const getForEdit = <T>(path: string) => callWithEtag<T>('GET', path);
export const post = <T>(path: string, body: unknown) => call<T>('POST', path, body);
/** With `ifMatch`, a change made by someone else since the read answers 412 instead of being overwritten. */
export const put = async <T>(path: string, body: unknown, ifMatch?: string | null) => (await callWithEtag<T>('PUT', path, body, { ifMatch })).body;
export const del = (path: string) => call<void>('DELETE', path);

/** 412: the object changed after this page read it (If-Match no longer matches). */
export const isStale = (e: unknown): boolean => e instanceof ApiError && e.status === 412;
export const STALE_MESSAGE = 'changed by someone else since you opened it; reload';

export const enc = encodeURIComponent;

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
