/** Number and time formatting shared by the pages. */

export function fmtRps(n: number): string {
  if (!Number.isFinite(n) || n === 0) return '0';
  if (n < 0.1) return n.toFixed(2);
  if (n < 10) return n.toFixed(1);
  return Math.round(n).toLocaleString('en');
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '–';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function fmtPct(ratio: number): string {
  if (!Number.isFinite(ratio) || ratio <= 0) return '0%';
  const p = ratio * 100;
  return `${p < 1 ? p.toFixed(2) : p < 10 ? p.toFixed(1) : Math.round(p)}%`;
}

export function fmtCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '–';
}

export function fmtAgo(epochMs: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - epochMs) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function fmtClock(epochMs: number, withDate = false): string {
  const d = new Date(epochMs);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return withDate ? `${d.getMonth() + 1}/${d.getDate()} ${hm}` : hm;
}

export type Health = 'idle' | 'ok' | 'warn' | 'bad';

/** Colour class of an edge or service by its error ratio (idle without requests). */
export function healthOf(requests: number, errorRatio: number): Health {
  if (!requests) return 'idle';
  if (errorRatio < 0.01) return 'ok';
  if (errorRatio < 0.05) return 'warn';
  return 'bad';
}

/** `version=2.0.0, zone=a` <-> {version: '2.0.0', zone: 'a'}; returns an error message on bad input. */
export function parsePairs(text: string, what: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) return `${what}: write key=value pairs separated by commas (got '${part}')`;
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export const pairsText = (rec: Record<string, string> | null | undefined): string =>
  Object.entries(rec ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
