import type { IncomingMessage } from 'node:http';
import type { MesherErrorCode } from '@mesher/contracts';
import type { RegistrySnapshot } from '@mesher/registry';
/** Where an outbound request wants to go, from the absolute-form URL or the Host header. */
export interface RequestTarget {
  /** Lower-case service name (the host part). */
  service: string;
  /** Port the app used, or null; not used for resolution, passed on as X-Forwarded-Port. */
  port: string | null;
  /** origin-form path with query, always starting with '/'. */
  path: string;
  /** host[:port] as the app wrote it. */
  authority: string;
}

const HOST_RE = /^([a-z0-9]([a-z0-9_.-]*[a-z0-9_])?|\[[0-9a-f:.]+\])(:(\d{1,5}))?$/i;

function splitAuthority(authority: string): { host: string; port: string | null } | null {
  const m = HOST_RE.exec(authority);
  if (!m) return null;
  return { host: m[1].toLowerCase(), port: m[4] ?? null };
}

/** Returns null when neither form names a usable host. Cheap on purpose: it runs on every request. */
export function parseRequestTarget(url: string | undefined, host: string | undefined): RequestTarget | null {
  if (!url) return null;
  if (url.charCodeAt(0) === 47 /* '/' */) {
    if (!host) return null;
    const a = splitAuthority(host);
    if (!a) return null;
    return { service: a.host, port: a.port, path: url, authority: host };
  }
  // absolute-form as sent by http_proxy clients: http://svc[:port]/path
  const schemeEnd = url.indexOf('://');
  if (schemeEnd <= 0) return null;
  const scheme = url.slice(0, schemeEnd).toLowerCase();
  if (scheme !== 'http') return null;
  const rest = url.slice(schemeEnd + 3);
  let cut = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35) {
      cut = i;
      break;
    }
  }
  const authority = rest.slice(0, cut);
  if (authority.includes('@')) return null; // userinfo has no place in a proxy request
  const a = splitAuthority(authority);
  if (!a) return null;
  let path = rest.slice(cut);
  if (path === '' ) path = '/';
  else if (path.charCodeAt(0) !== 47) path = '/' + path;
  return { service: a.host, port: a.port, path, authority };
}

/** A target plus, at the edge, the ingress rule that produced it. */
export interface ResolvedTarget extends RequestTarget {
  ingressRule?: string;
}

export interface TargetError {
  code: MesherErrorCode;
  message: string;
}

/** The first pass of a listener: which service, which path. Sidecar and edge listeners differ only here. */
export type TargetResolver = (req: IncomingMessage, snapshot: RegistrySnapshot) => ResolvedTarget | TargetError;

/** Sidecar outbound: absolute-form (http_proxy clients) or a Host header naming the service. */
export const resolveProxyTarget: TargetResolver = (req) =>
  parseRequestTarget(req.url, req.headers.host) ?? {
    code: 'BAD_REQUEST',
    message: 'request has no usable target: send absolute-form (http://service/path) or a Host header naming a service',
  };

export function isTargetError(t: ResolvedTarget | TargetError): t is TargetError {
  return (t as TargetError).code !== undefined;
}
