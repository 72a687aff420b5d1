import type { IncomingMessage } from 'node:http';
import { routeIngress, type RegistrySnapshot } from '@mesher/registry';
import type { ResolvedTarget, TargetResolver } from './request-target';

/** The edge listener: origin-form requests from outside, mapped to services by ingress rules. */
export const resolveEdgeTarget: TargetResolver = (req: IncomingMessage, snapshot: RegistrySnapshot) => {
  const url = req.url ?? '';
  if (!url.startsWith('/')) {
    // Used as a forward proxy by mistake: say so instead of panicking or answering empty (ServiceComb Mesher).
    return { code: 'BAD_REQUEST', message: 'this is an edge listener: send origin-form requests (GET /path with a Host header), not proxy requests' };
  }
  const hostHeader = req.headers.host ?? '';
  const host = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  const hit = routeIngress(snapshot.ingress, host, url);
  if (!hit) return { code: 'ROUTE_NOT_FOUND', message: `no ingress rule for host '${host}' and path '${url.split('?')[0]}'` };
  const target: ResolvedTarget = {
    service: hit.rule.service,
    port: hit.rule.port !== null ? String(hit.rule.port) : null,
    path: hit.path,
    authority: hostHeader || hit.rule.service,
    ingressRule: hit.rule.id,
  };
  return target;
};
