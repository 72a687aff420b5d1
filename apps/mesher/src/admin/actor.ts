import type { FastifyRequest } from 'fastify';

/** Who made a change, for the revision history: a known client name, else 'api'. */
export function actorOf(req: FastifyRequest): string {
  const a = req.headers['x-mesher-actor'];
  return typeof a === 'string' && /^(cli|dashboard|api)$/.test(a) ? a : 'api';
}
