import type { FaultSpec, HeaderMatch } from '@mesher/contracts';
import { compileHeaderMatch, headerValue } from './header-match';

export interface FaultDecision {
  delayMs: number;
  abortStatus: number | null;
}

export const NO_FAULT: Readonly<FaultDecision> = Object.freeze({ delayMs: 0, abortStatus: null });

type HeaderPredicate = (headers: Record<string, string | string[] | undefined>) => boolean;

/** Compiled per headers object, so regexes are built once per policy snapshot, not once per request. */
const compiled = new WeakMap<Record<string, HeaderMatch>, HeaderPredicate>();

function headersPredicate(matches: Record<string, HeaderMatch>): HeaderPredicate {
  let pred = compiled.get(matches);
  if (pred === undefined) {
    const tests = Object.entries(matches).map(([name, m]) => {
      const key = name.toLowerCase();
      const test = compileHeaderMatch(m);
      return (h: Record<string, string | string[] | undefined>) => test(headerValue(h[key]));
    });
    pred = (h) => tests.every((t) => t(h));
    compiled.set(matches, pred);
  }
  return pred;
}

/** Delay and abort are drawn independently, each with its own percent (0..100). */
export function decideFault(
  spec: FaultSpec | undefined,
  headers: Record<string, string | string[] | undefined>,
  random: () => number,
): Readonly<FaultDecision> {
  // The shared frozen decision: most requests have no fault policy, and nobody changes a decision.
  if (spec === undefined) return NO_FAULT;
  if (spec.headers !== undefined && !headersPredicate(spec.headers)(headers)) return NO_FAULT;
  const hit = (percent: number) => random() * 100 < percent;
  const delayMs = spec.delay !== undefined && hit(spec.delay.percent) ? spec.delay.fixedDelayMs : 0;
  const abortStatus = spec.abort !== undefined && hit(spec.abort.percent) ? spec.abort.httpStatus : null;
  return { delayMs, abortStatus };
}
