import * as http from 'node:http';
import { api, request, type HttpResult } from './http-client';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Keep-alive agent for load loops (bounded sockets, so concurrency is what the caller says). */
export function loadAgent(maxSockets = 32): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets });
}

/** Runs `fn(0..total-1)` with at most `concurrency` in flight; results in index order. */
export async function runPool<T>(total: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return out;
}

/** Counts occurrences of each key. */
export function tally<T>(items: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of items) {
    const k = key(x);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** GET through the proxy, with the proxy's own agent (keep-alive). */
export function proxyGet(proxy: string, url: string, agent: http.Agent, headers: http.OutgoingHttpHeaders = {}): Promise<HttpResult> {
  return request(proxy, 'GET', url, { agent, headers });
}

/** A condition to poll: a value (or a promise of one), falsy until it holds. */
export type Condition<T> = () => T | undefined | false | null | Promise<T | undefined | false | null>;

/** Polls until `fn` returns a truthy value, bounded in time. */
export async function waitFor<T>(what: string, fn: Condition<T>, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Snapshot revision a Mesher routes with (ServiceComb health endpoint). */
export async function revisionOf(admin: string): Promise<number> {
  return (await api(admin, 'GET', '/v1/mesher/health')).json<{ revision: number }>().revision;
}

/** Waits until `admin`'s Mesher has picked up at least `revision` (a shared store is polled). */
export function waitForRevision(admin: string, revision: number): Promise<number> {
  return waitFor(`revision ${revision} at ${admin}`, async () => {
    const r = await revisionOf(admin);
    return r >= revision ? r : undefined;
  });
}
