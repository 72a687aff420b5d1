import type { FastifyRequest } from 'fastify';

/** Which admin token a request carried; set by AdminAuthGuard when tokens are configured. */
export type AdminScope = 'operator' | 'viewer';

const scopes = new WeakMap<object, AdminScope>();

export function setAdminScope(req: FastifyRequest, scope: AdminScope): void {
  scopes.set(req, scope);
}

/**
 * Who made a change, for the revision history: the token's name when tokens are configured ('operator', or
 * 'operator:cli' / 'operator:dashboard' with a known client name), else the client name or 'api'.
 */
export function actorOf(req: FastifyRequest): string {
  const a = req.headers['x-mesher-actor'];
  const client = typeof a === 'string' && /^(cli|dashboard|api)$/.test(a) ? a : 'api';
  const scope = scopes.get(req);
  if (!scope) return client;
  return client === 'api' ? scope : `${scope}:${client}`;
}
