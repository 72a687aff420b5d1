import type { HeaderMatch } from '@mesher/contracts';

/**
 * Compiles one header condition. All given criteria must hold; a regex must match the whole value
 * (anchored, as in the route matcher); caseInsensitive applies to each criterion. An absent header
 * never matches. Throws an Error naming the regex when it does not compile.
 */
export function compileHeaderMatch(m: HeaderMatch): (value: string | undefined) => boolean {
  const ci = m.caseInsensitive === true;
  const norm = (s: string) => (ci ? s.toLowerCase() : s);
  const checks: Array<(v: string) => boolean> = [];
  if (m.exact !== undefined) {
    const want = norm(m.exact);
    checks.push((v) => norm(v) === want);
  }
  if (m.prefix !== undefined) {
    const want = norm(m.prefix);
    checks.push((v) => norm(v).startsWith(want));
  }
  if (m.regex !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${m.regex})$`, ci ? 'i' : '');
    } catch (e) {
      throw new Error(`invalid header regex '${m.regex}': ${(e as Error).message}`);
    }
    checks.push((v) => re.test(v));
  }
  return (value) => value !== undefined && checks.every((c) => c(value));
}

/** Node gives repeated headers as arrays; match them the way the route matcher does (joined by ','). */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}
