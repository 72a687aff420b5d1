import type { FastifyInstance } from 'fastify';
import { isIP } from 'node:net';
import type { MesherConfig } from '../config/config.schema';
import { bodyShapeProblem } from './body-depth';

export interface AdminRefusal {
  statusCode: number;
  code: string;
  message: string;
}

export interface AdminRequestFacts {
  method: string;
  url: string;
  /** Every Host field the request carried (raw headers), normally one. */
  hosts: string[];
  origin: string | undefined;
  /** The address the connection arrived on (the admin listener's own address, even when bound to 0.0.0.0). */
  localAddress: string | undefined;
  protocol: 'http' | 'https';
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Query parameters that would carry a credential into access logs, proxies and browser history. */
const TOKEN_PARAMS = new Set(['token', 'access_token', 'admin_token']);

const plainAddress = (a: string) => a.replace(/^::ffff:(?=\d+\.)/i, '').toLowerCase();

/** The host name of a Host field (lower case, no port, no brackets, no trailing dot), or null when malformed. */
export function hostnameOf(host: string): string | null {
  const h = host.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h);
  if (v6) return isIP(v6[1]) === 6 ? v6[1] : null;
  const named = /^([a-z0-9_-]+(?:\.[a-z0-9_-]+)*)\.?(?::\d{1,5})?$/.exec(h);
  return named ? named[1] : null;
}

/** The names the admin API answers to: loopback, its configured address, and --admin-allowed-hosts. */
export function allowedAdminHosts(cfg: Pick<MesherConfig, 'adminAddress' | 'adminAllowedHosts'>): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '::1', ...cfg.adminAllowedHosts.map((h) => h.toLowerCase())]);
  const own = plainAddress(cfg.adminAddress);
  if (own !== '0.0.0.0' && own !== '::') names.add(own);
  return names;
}

/**
 * Checks that come before routing and authentication, on every admin request (API, docs, dashboard):
 * - Host must name this admin API. A DNS-rebinding page reaches 127.0.0.1 under the attacker's host name, and
 *   that name is what its requests carry; the port is not checked, so port forwarding keeps working.
 * - no credential in the query string (it would land in logs and history);
 * - a write carrying an Origin must come from the admin API's own origin (no cross-site form posts or fetches).
 */
export function checkAdminRequest(f: AdminRequestFacts, allowed: ReadonlySet<string>): AdminRefusal | null {
  if (f.hosts.length !== 1) {
    return { statusCode: 400, code: 'BAD_REQUEST', message: f.hosts.length === 0 ? 'a Host header is required' : 'more than one Host header' };
  }
  const name = hostnameOf(f.hosts[0]);
  const local = f.localAddress ? plainAddress(f.localAddress) : null;
  if (name === null || (!allowed.has(name) && name !== local)) {
    return {
      statusCode: 421,
      code: 'MISDIRECTED_REQUEST',
      message: `the admin API does not answer to Host '${f.hosts[0].slice(0, 100)}': use localhost or its address, or add the name with --admin-allowed-hosts`,
    };
  }
  const q = f.url.indexOf('?');
  if (q >= 0) {
    for (const key of new URLSearchParams(f.url.slice(q + 1)).keys()) {
      if (TOKEN_PARAMS.has(key.toLowerCase())) {
        return {
          statusCode: 400,
          code: 'BAD_REQUEST',
          message: `query parameter '${key.slice(0, 40)}': admin tokens are not accepted in the URL (it ends up in logs and history); send Authorization: Bearer <token>`,
        };
      }
    }
  }
  if (!SAFE_METHODS.has(f.method) && f.origin !== undefined) {
    const own = `${f.protocol}://${f.hosts[0].trim().toLowerCase()}`;
    if (f.origin.trim().toLowerCase() !== own) {
      return {
        statusCode: 403,
        code: 'FORBIDDEN',
        message: `cross-origin ${f.method} refused: Origin '${f.origin.slice(0, 100)}' is not this admin API (${own})`,
      };
    }
  }
  return null;
}

/** Installs checkAdminRequest as the first hook of the admin server, before any route is registered. */
export function registerAdminRequestChecks(fastify: FastifyInstance, cfg: Pick<MesherConfig, 'adminAddress' | 'adminAllowedHosts'>): void {
  const allowed = allowedAdminHosts(cfg);
  fastify.addHook('onRequest', async (req, reply) => {
    const raw = req.raw.rawHeaders;
    const hosts: string[] = [];
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'host') hosts.push(raw[i + 1]);
    const origin = req.headers.origin;
    const refusal = checkAdminRequest(
      {
        method: req.method,
        url: req.url,
        hosts,
        origin: typeof origin === 'string' ? origin : undefined,
        localAddress: req.socket.localAddress,
        protocol: req.protocol === 'https' ? 'https' : 'http',
      },
      allowed,
    );
    if (refusal) {
      return reply.code(refusal.statusCode).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store').send(refusal);
    }
  });
  // After parsing, before validation and controllers: deep nesting would overflow their recursion.
  fastify.addHook('preValidation', async (req, reply) => {
    const problem = bodyShapeProblem(req.body);
    if (problem) {
      const body: AdminRefusal = { statusCode: 400, code: 'BAD_REQUEST', message: problem };
      return reply.code(400).header('content-type', 'application/json; charset=utf-8').send({ ...body, errors: [{ field: 'body', message: problem }] });
    }
  });
}
