/** A mounted page: its root element and what to stop when the user navigates away. */
export interface Page {
  title: string;
  el: HTMLElement;
  dispose?: () => void;
}

export type PageFactory = (params: URLSearchParams) => Page;

/**
 * Runs `fn` now and every `ms` while the page is shown; a slow run is never overlapped by the next one.
 * Returns the stop function.
 */
export function every(ms: number, fn: () => Promise<void> | void): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const tick = async () => {
    try {
      await fn();
    } catch {
      // each page shows its own errors; the loop carries on
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/** Collects dispose functions. */
export function disposer(): { add(fn: () => void): void; run(): void } {
  const fns: Array<() => void> = [];
  return {
    add: (fn) => void fns.push(fn),
    run: () => fns.splice(0).forEach((fn) => fn()),
  };
}
