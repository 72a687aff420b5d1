import type { RouteMatch } from '@mesher/contracts';
import { compileHeaderMatch, headerValue } from '@mesher/policies';

/** What a route rule can look at; header names are lower-case (as Node gives them). */
export interface RouteRequest {
  source: string | null;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

export type RequestPredicate = (req: RouteRequest) => boolean;

/** Compiles a rule's match block once, at snapshot build, into one predicate. */
export function compileRouteMatch(match: RouteMatch | null | undefined): RequestPredicate {
  if (!match) return () => true;
  const preds: RequestPredicate[] = [];
  if (match.source !== undefined) {
    const src = match.source;
    preds.push((r) => r.source === src);
  }
  if (match.pathPrefix !== undefined) {
    const p = match.pathPrefix;
    preds.push((r) => r.path.startsWith(p));
  }
  if (match.methods && match.methods.length > 0) {
    const set = new Set(match.methods.map((m) => m.toUpperCase()));
    preds.push((r) => set.has(r.method));
  }
  for (const [name, hm] of Object.entries(match.headers ?? {})) {
    const key = name.toLowerCase();
    const test = compileHeaderMatch(hm);
    preds.push((r) => test(headerValue(r.headers[key])));
  }
  if (preds.length === 0) return () => true;
  return (r) => {
    for (const p of preds) if (!p(r)) return false;
    return true;
  };
}
