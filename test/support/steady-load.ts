import { loadAgent, proxyGet, sleep } from './load';

export interface LoadResult {
  status: number;
  /** The answering upstream (`x-upstream`), or the error when no answer came. */
  upstream: string;
  at: number;
}

export interface SteadyLoad {
  /** Results so far, in completion order. */
  results: LoadResult[];
  /** Stops the workers, waits for the requests in flight, and answers every result. */
  stop(): Promise<LoadResult[]>;
}

/**
 * A steady, bounded load through Mesher proxies until stopped: `workers` loops, each one request at a time with a
 * short pause, going round `targets` ([proxy host:port, URL prefix]); at most `max` requests per worker.
 */
export function startSteadyLoad(targets: Array<[proxy: string, urlPrefix: string]>, opts: { workers?: number; pauseMs?: number; max?: number } = {}): SteadyLoad {
  const { workers = 4, pauseMs = 10, max = 5000 } = opts;
  const agent = loadAgent(workers * 2);
  const results: LoadResult[] = [];
  let running = true;
  const worker = async (w: number) => {
    for (let i = 0; running && i < max; i++) {
      const [proxy, prefix] = targets[(w + i) % targets.length];
      const r = await proxyGet(proxy, `${prefix}/${w}/${i}`, agent).catch((e: Error) => ({ status: 0, headers: {} as Record<string, string>, body: e.message }));
      results.push({ status: r.status, upstream: String(r.headers['x-upstream'] ?? r.body), at: Date.now() });
      await sleep(pauseMs);
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    results,
    async stop() {
      running = false;
      await done;
      agent.destroy();
      return results;
    },
  };
}
