import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

export interface OverloadOptions {
  /** Shed when the event loop ran this late (ms) in the last sample window; 0 turns the check off. */
  maxEventLoopDelayMs: number;
  /** Shed when the V8 heap is this full (percent of its limit); 0 turns the check off. */
  maxHeapPercent: number;
  /** How often the state is re-evaluated (ms). */
  sampleIntervalMs?: number;
}

export interface OverloadSample {
  /** Worst event-loop delay seen in the window (ms). */
  delayMs: number;
  heapUsed: number;
  heapLimit: number;
}

/** Pure decision: the reason to shed, or null. */
export function overloadReason(o: OverloadOptions, s: OverloadSample): string | null {
  if (o.maxEventLoopDelayMs > 0 && s.delayMs > o.maxEventLoopDelayMs) {
    return `event loop delay ${Math.round(s.delayMs)} ms is over the ${o.maxEventLoopDelayMs} ms limit`;
  }
  if (o.maxHeapPercent > 0 && s.heapLimit > 0) {
    const pct = (s.heapUsed / s.heapLimit) * 100;
    if (pct > o.maxHeapPercent) return `heap use ${pct.toFixed(1)}% is over the ${o.maxHeapPercent}% limit`;
  }
  return null;
}

/**
 * Watches event-loop delay and heap use and says when to shed load. Sampling happens on a timer, so
 * the per-request cost is one property read. Two delay signals are combined: the histogram of
 * `monitorEventLoopDelay` (short stalls inside the window) and the lateness of our own timer (a stall
 * that is still ending when the window closes, which the histogram may not have recorded yet).
 */
export class OverloadGuard {
  /** Why requests are being shed right now; null when healthy. */
  reason: string | null = null;
  /** Requests shed so far. */
  shed = 0;
  private histogram: IntervalHistogram | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastTick = 0;
  private readonly intervalMs: number;

  constructor(
    readonly options: OverloadOptions,
    private readonly heap: () => { used: number; limit: number } = defaultHeap,
  ) {
    this.intervalMs = options.sampleIntervalMs ?? 250;
  }

  get enabled(): boolean {
    return this.options.maxEventLoopDelayMs > 0 || this.options.maxHeapPercent > 0;
  }

  start(): void {
    if (!this.enabled || this.timer) return;
    if (this.options.maxEventLoopDelayMs > 0) {
      this.histogram = monitorEventLoopDelay({ resolution: 10 });
      this.histogram.enable();
    }
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.histogram?.disable();
    this.histogram = null;
    this.reason = null;
  }

  /** Admission check on the hot path. */
  admit(): boolean {
    if (this.reason === null) return true;
    this.shed++;
    return false;
  }

  private tick(): void {
    const t = performance.now();
    const late = Math.max(0, t - this.lastTick - this.intervalMs);
    this.lastTick = t;
    let delayMs = late;
    if (this.histogram) {
      // The histogram reports nanoseconds and includes the resolution itself.
      if (this.histogram.count > 0) delayMs = Math.max(delayMs, this.histogram.max / 1e6 - 10);
      this.histogram.reset();
    }
    const h = this.options.maxHeapPercent > 0 ? this.heap() : { used: 0, limit: 0 };
    this.reason = overloadReason(this.options, { delayMs, heapUsed: h.used, heapLimit: h.limit });
  }
}

function defaultHeap(): { used: number; limit: number } {
  const s = getHeapStatistics();
  return { used: s.used_heap_size, limit: s.heap_size_limit };
}
