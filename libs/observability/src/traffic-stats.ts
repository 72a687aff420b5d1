import type { EdgeStats, InstanceStats, MinuteRollup, TrafficSnapshot, TrafficWindow, WindowStats } from '@mesher/contracts';
import { LatencyHistogram } from './latency-histogram';

// The statistics' shapes are contracts: the admin API and the dashboard share them.
export type { EdgeStats, InstanceStats, MinuteRollup, TrafficSnapshot, TrafficWindow, WindowStats };

/**
 * Live per-edge (source -> destination) and per-instance (destination + instance) statistics over
 * sliding 1-minute and 5-minute windows, plus whole-minute rollups for persistence elsewhere.
 *
 * Memory layout per key: a ring of 12 five-second slots (exactly the 1m window) and a ring of 6
 * one-minute slots. A sample is recorded once, into the current 5 s slot; when a 5 s slot leaves the
 * 1m window its data is folded into its minute slot. Every sample therefore lives in exactly one
 * place, so windows and rollups sum disjoint slots and never double count.
 * Histograms come from one pool with a hard cap and are attached to a slot only once it has traffic,
 * so idle keys and quiet slots cost no histogram memory. Keys are capped too; idle keys are pruned.
 * All time is passed in (`now`, epoch ms); slots advance lazily, no timers.
 */

export interface TrafficSample {
  source: string;
  destination: string;
  /** null when the request failed before an instance was picked (no route, circuit open, ...). */
  instanceId: string | null;
  /** Not used for counting: the proxy decides what an error is and says so in `error`. */
  status: number;
  durationMs: number;
  error: boolean;
}


export interface TrafficStatsOptions {
  /** Distinct edges kept; beyond it samples of new edges go to the overflow edge. Default 10,000. */
  maxEdges?: number;
  /** Distinct instances kept; beyond it samples of new instances go to the overflow instance. Default 10,000. */
  maxInstances?: number;
  /** Hard cap on latency histograms (~2.9 KB each). Default 16,384 (~46 MB worst case). */
  maxHistograms?: number;
}

/** Counters that prove the structure stays bounded and say when a bound was hit. */
export interface TrafficStatsUsage {
  edges: number;
  instances: number;
  /** Histograms allocated (in use + pooled); never above maxHistograms. */
  histograms: number;
  histogramsInUse: number;
  /** Samples that went to an overflow key because a key cap was reached. */
  overflowSamples: number;
  /** Samples counted without latency because the histogram cap was reached. */
  samplesWithoutLatency: number;
  /** Completed edge minutes discarded before anyone drained them. */
  droppedRollups: number;
}

/** Source/destination/instance name used for traffic that exceeded a key cap. */
export const TRAFFIC_OVERFLOW_KEY = '~overflow';

const FINE_MS = 5_000;
const FINE_SLOTS = 12; // 12 x 5 s = the 1m window
const MINUTE_MS = 60_000;
const MINUTE_SLOTS = 6; // the 4 past minutes of the 5m window + 2 of grace for the drainer
/** The 5m window: the current minute plus the 4 before it (4-5 minutes, in whole-minute steps). */
const FIVE_MIN_FROM = 4 * MINUTE_MS;
/** A key idle this long has nothing left in any window or undrained minute, so it can go. */
const IDLE_MS = MINUTE_SLOTS * MINUTE_MS;
/** Free pooled histograms kept after a prune; the rest are left to the GC. */
const POOL_SPARE = 256;
const EMPTY = -1;
const QUANTILES = [0.5, 0.9, 0.99] as const;

function floorTo(t: number, step: number): number {
  return Math.floor(t / step) * step;
}

/** Ring position of an aligned slot start (also for negative times, which `%` alone gets wrong). */
function ringIndex(start: number, step: number, size: number): number {
  return (((start / step) % size) + size) % size;
}

class HistogramPool {
  private readonly free: LatencyHistogram[] = [];
  allocated = 0;

  constructor(private readonly max: number) {}

  acquire(): LatencyHistogram | null {
    const h = this.free.pop();
    if (h !== undefined) return h;
    if (this.allocated >= this.max) return null;
    this.allocated++;
    return new LatencyHistogram();
  }

  release(h: LatencyHistogram): void {
    h.reset();
    this.free.push(h);
  }

  trim(): void {
    while (this.free.length > POOL_SPARE) {
      this.free.pop();
      this.allocated--;
    }
  }

  get inUse(): number {
    return this.allocated - this.free.length;
  }
}

class Slot {
  start = EMPTY;
  count = 0;
  errors = 0;
  sumMs = 0;
  hist: LatencyHistogram | null = null;
  /** Minute slots only: already returned by drainMinuteRollups. */
  drained = false;

  clear(pool: HistogramPool): void {
    if (this.hist !== null) pool.release(this.hist);
    this.hist = null;
    this.start = EMPTY;
    this.count = 0;
    this.errors = 0;
    this.sumMs = 0;
    this.drained = false;
  }
}

/** Shared mutable counters, so series need no back-reference to their owner. */
interface Counters {
  samplesWithoutLatency: number;
  droppedRollups: number;
}

/** Accumulator for summing slots; one per TrafficStats, reused. */
class Aggregate {
  count = 0;
  errors = 0;
  sumMs = 0;
  readonly hist = new LatencyHistogram();

  reset(): void {
    this.count = 0;
    this.errors = 0;
    this.sumMs = 0;
    this.hist.reset();
  }

  add(slot: Slot): void {
    this.count += slot.count;
    this.errors += slot.errors;
    this.sumMs += slot.sumMs;
    if (slot.hist !== null) this.hist.merge(slot.hist);
  }
}

/** Two-level map (a -> b -> series): lookups use the caller's strings as they are, no key concatenation. */
class SeriesTable {
  private readonly byA = new Map<string, Map<string, Series>>();
  size = 0;

  get(a: string, b: string): Series | undefined {
    return this.byA.get(a)?.get(b);
  }

  set(s: Series): void {
    let inner = this.byA.get(s.a);
    if (inner === undefined) this.byA.set(s.a, (inner = new Map()));
    inner.set(s.b, s);
    this.size++;
  }

  *values(): Iterable<Series> {
    for (const inner of this.byA.values()) yield* inner.values();
  }

  /** Removes (and returns to `onRemove`) every series matching `idle`. */
  removeIf(idle: (s: Series) => boolean, onRemove: (s: Series) => void): void {
    for (const [a, inner] of this.byA) {
      for (const [b, s] of inner) {
        if (!idle(s)) continue;
        onRemove(s);
        inner.delete(b);
        this.size--;
      }
      if (inner.size === 0) this.byA.delete(a);
    }
  }
}

class Series {
  readonly fine: Slot[] = Array.from({ length: FINE_SLOTS }, () => new Slot());
  readonly minutes: Slot[] = Array.from({ length: MINUTE_SLOTS }, () => new Slot());
  /** Start of the newest 5 s slot; samples older than it are clamped into it. */
  latestFine = -Infinity;
  /** The slot starting at latestFine, cached so the hot path does no division. */
  private current: Slot = this.fine[0];
  lastSeen = -Infinity;

  constructor(
    readonly a: string,
    readonly b: string,
    /** Edges produce minute rollups; instances do not. */
    private readonly rollups: boolean,
  ) {}

  record(now: number, ms: number, error: boolean, pool: HistogramPool, counters: Counters): void {
    if (now >= this.latestFine + FINE_MS) this.advance(now, pool, counters);
    const slot = this.current;
    slot.count++;
    if (error) slot.errors++;
    slot.sumMs += ms;
    if (slot.hist === null) slot.hist = pool.acquire();
    if (slot.hist !== null) slot.hist.record(ms);
    else counters.samplesWithoutLatency++;
    if (now > this.lastSeen) this.lastSeen = now;
  }

  /** Moves the ring to `now`: 5 s slots that left the 1m window are folded into their minute. */
  advance(now: number, pool: HistogramPool, counters: Counters): void {
    const current = floorTo(now, FINE_MS);
    if (current <= this.latestFine) return;
    this.latestFine = current;
    const oldest = current - (FINE_SLOTS - 1) * FINE_MS;
    // Oldest first, so a minute slot is never overwritten by an older minute.
    for (;;) {
      let victim: Slot | null = null;
      for (const s of this.fine) {
        if (s.start !== EMPTY && s.start < oldest && (victim === null || s.start < victim.start)) victim = s;
      }
      if (victim === null) break;
      this.fold(victim, pool, counters);
    }
    // Whatever this ring entry held was older than `oldest`, so it has just been folded away.
    this.current = this.fine[ringIndex(current, FINE_MS, FINE_SLOTS)];
    this.current.start = current;
  }

  private fold(slot: Slot, pool: HistogramPool, counters: Counters): void {
    if (slot.count > 0) {
      const minute = floorTo(slot.start, MINUTE_MS);
      const target = this.minuteSlot(minute, pool, counters);
      if (target !== null) {
        target.count += slot.count;
        target.errors += slot.errors;
        target.sumMs += slot.sumMs;
        if (slot.hist !== null) {
          // Hand the histogram over when the minute has none: no copy, no extra allocation.
          if (target.hist === null) {
            target.hist = slot.hist;
            slot.hist = null;
          } else {
            target.hist.merge(slot.hist);
          }
        }
      }
    }
    slot.clear(pool);
  }

  /** The ring entry for `minute`, recycling what it held; null if it holds a newer minute. */
  private minuteSlot(minute: number, pool: HistogramPool, counters: Counters): Slot | null {
    const slot = this.minutes[ringIndex(minute, MINUTE_MS, MINUTE_SLOTS)];
    if (slot.start === minute) return slot;
    if (slot.start > minute) return null;
    this.retire(slot, counters);
    slot.clear(pool);
    slot.start = minute;
    return slot;
  }

  private retire(slot: Slot, counters: Counters): void {
    if (this.rollups && slot.count > 0 && !slot.drained) counters.droppedRollups++;
  }

  /** Sums the slots of the window starting at `from` (5 s slots, plus minute slots when asked). */
  sum(from: number, withMinutes: boolean, into: Aggregate): void {
    into.reset();
    for (const s of this.fine) if (s.count > 0 && s.start >= from) into.add(s);
    if (withMinutes) for (const s of this.minutes) if (s.count > 0 && s.start >= from) into.add(s);
  }

  /** Appends rollups of completed minutes not yet drained, and marks them drained. */
  drain(now: number, pool: HistogramPool, counters: Counters, agg: Aggregate, out: MinuteRollup[]): void {
    this.advance(now, pool, counters);
    const currentMinute = floorTo(now, MINUTE_MS);
    // After advance(), 5 s slots hold at most the previous and the current minute, so a completed
    // minute is its minute slot plus possibly some 5 s slots of the previous minute.
    const pending: number[] = [];
    for (const s of this.minutes) {
      if (s.count > 0 && !s.drained && s.start < currentMinute) pending.push(s.start);
    }
    for (const s of this.fine) {
      if (s.count === 0) continue;
      const m = floorTo(s.start, MINUTE_MS);
      if (m < currentMinute && !pending.includes(m)) pending.push(m);
    }
    pending.sort((x, y) => x - y);
    for (const minute of pending) {
      const slot = this.minuteSlot(minute, pool, counters);
      if (slot === null || slot.drained) continue;
      agg.reset();
      agg.add(slot);
      for (const s of this.fine) if (s.count > 0 && floorTo(s.start, MINUTE_MS) === minute) agg.add(s);
      // 5 s slots of this minute still in the ring fold into it later; being drained, it is not re-sent.
      slot.drained = true;
      if (agg.count === 0) continue;
      const [p50, p90, p99] = agg.hist.quantiles(QUANTILES);
      out.push({
        minute,
        source: this.a,
        destination: this.b,
        requests: agg.count,
        errors: agg.errors,
        p50,
        p90,
        p99,
        sumMs: agg.sumMs,
      });
    }
  }

  /** Returns every histogram to the pool, counting what was never drained. */
  dispose(now: number, pool: HistogramPool, counters: Counters): void {
    this.advance(now, pool, counters);
    for (const s of this.fine) this.fold(s, pool, counters);
    for (const s of this.minutes) {
      this.retire(s, counters);
      s.clear(pool);
    }
  }
}

export class TrafficStats {
  private readonly edges = new SeriesTable();
  private readonly instances = new SeriesTable();
  private overflowEdge: Series | null = null;
  private overflowInstance: Series | null = null;
  private readonly pool: HistogramPool;
  private readonly counters: Counters = { samplesWithoutLatency: 0, droppedRollups: 0 };
  private readonly agg = new Aggregate();
  private readonly maxEdges: number;
  private readonly maxInstances: number;
  private overflowSamples = 0;
  private lastFullPrune = -Infinity;

  constructor(options: TrafficStatsOptions = {}) {
    this.maxEdges = positiveInt(options.maxEdges, 10_000, 'maxEdges');
    this.maxInstances = positiveInt(options.maxInstances, 10_000, 'maxInstances');
    this.pool = new HistogramPool(positiveInt(options.maxHistograms, 16_384, 'maxHistograms'));
  }

  record(sample: TrafficSample, now: number): void {
    if (!Number.isFinite(now)) return;
    const ms = sample.durationMs >= 0 ? sample.durationMs : 0;
    const edge = this.edges.get(sample.source, sample.destination) ?? this.addEdge(sample.source, sample.destination, now);
    edge.record(now, ms, sample.error, this.pool, this.counters);
    if (sample.instanceId !== null) {
      const instance =
        this.instances.get(sample.destination, sample.instanceId) ??
        this.addInstance(sample.destination, sample.instanceId, now);
      instance.record(now, ms, sample.error, this.pool, this.counters);
    }
  }

  /** Windowed statistics of every key with traffic in the last 5 minutes. Also prunes idle keys. */
  snapshot(now: number): TrafficSnapshot {
    this.prune(now);
    const edges: EdgeStats[] = [];
    const instances: InstanceStats[] = [];
    for (const s of this.allEdges()) {
      const windows = this.windows(s, now);
      if (windows !== null) edges.push({ source: s.a, destination: s.b, windows });
    }
    for (const s of this.allInstances()) {
      const windows = this.windows(s, now);
      if (windows !== null) instances.push({ destination: s.a, instanceId: s.b, windows });
    }
    return { at: now, edges, instances };
  }

  /**
   * Completed whole minutes per edge not returned before, oldest first. Call at least every few
   * minutes: a minute is kept at least 5 minutes after it ends, then counted in `droppedRollups`.
   */
  drainMinuteRollups(now: number): MinuteRollup[] {
    const out: MinuteRollup[] = [];
    for (const s of this.allEdges()) s.drain(now, this.pool, this.counters, this.agg, out);
    this.prune(now);
    out.sort((x, y) => x.minute - y.minute);
    return out;
  }

  /** Drops keys idle for 6 minutes (nothing left in any window) and trims the histogram pool. */
  prune(now: number): void {
    this.lastFullPrune = now;
    const cutoff = now - IDLE_MS;
    const idle = (s: Series) => s.lastSeen < cutoff;
    const dispose = (s: Series) => s.dispose(now, this.pool, this.counters);
    this.edges.removeIf(idle, dispose);
    this.instances.removeIf(idle, dispose);
    if (this.overflowEdge !== null && this.overflowEdge.lastSeen < cutoff) {
      this.overflowEdge.dispose(now, this.pool, this.counters);
      this.overflowEdge = null;
    }
    if (this.overflowInstance !== null && this.overflowInstance.lastSeen < cutoff) {
      this.overflowInstance.dispose(now, this.pool, this.counters);
      this.overflowInstance = null;
    }
    this.pool.trim();
  }

  usage(): TrafficStatsUsage {
    return {
      edges: this.edges.size + (this.overflowEdge === null ? 0 : 1),
      instances: this.instances.size + (this.overflowInstance === null ? 0 : 1),
      histograms: this.pool.allocated,
      histogramsInUse: this.pool.inUse,
      overflowSamples: this.overflowSamples,
      samplesWithoutLatency: this.counters.samplesWithoutLatency,
      droppedRollups: this.counters.droppedRollups,
    };
  }

  private addEdge(source: string, destination: string, now: number): Series {
    if (this.edges.size >= this.maxEdges && !this.pruneForRoom(now, this.edges, this.maxEdges)) {
      this.overflowSamples++;
      return (this.overflowEdge ??= new Series(TRAFFIC_OVERFLOW_KEY, TRAFFIC_OVERFLOW_KEY, true));
    }
    const s = new Series(source, destination, true);
    this.edges.set(s);
    return s;
  }

  private addInstance(destination: string, instanceId: string, now: number): Series {
    if (this.instances.size >= this.maxInstances && !this.pruneForRoom(now, this.instances, this.maxInstances)) {
      this.overflowSamples++;
      return (this.overflowInstance ??= new Series(TRAFFIC_OVERFLOW_KEY, TRAFFIC_OVERFLOW_KEY, false));
    }
    const s = new Series(destination, instanceId, false);
    this.instances.set(s);
    return s;
  }

  /** At a key cap: prune, but at most once per 5 s, so a flood of new keys cannot make record() O(keys). */
  private pruneForRoom(now: number, map: SeriesTable, max: number): boolean {
    if (now - this.lastFullPrune >= FINE_MS || now < this.lastFullPrune) this.prune(now);
    return map.size < max;
  }

  private *allEdges(): Iterable<Series> {
    yield* this.edges.values();
    if (this.overflowEdge !== null) yield this.overflowEdge;
  }

  private *allInstances(): Iterable<Series> {
    yield* this.instances.values();
    if (this.overflowInstance !== null) yield this.overflowInstance;
  }

  /** null when the key has no traffic in the 5m window. */
  private windows(s: Series, now: number): Record<TrafficWindow, WindowStats> | null {
    s.advance(now, this.pool, this.counters);
    const currentFine = floorTo(now, FINE_MS);
    const from5m = floorTo(now, MINUTE_MS) - FIVE_MIN_FROM;
    s.sum(from5m, true, this.agg);
    if (this.agg.count === 0) return null;
    const fiveMinutes = windowStats(this.agg, now - from5m);
    const from1m = currentFine - (FINE_SLOTS - 1) * FINE_MS;
    s.sum(from1m, false, this.agg);
    return { '1m': windowStats(this.agg, now - from1m), '5m': fiveMinutes };
  }
}

/** `spanMs` is the time the window's slots cover up to now: 55-60 s for 1m, 4-5 min for 5m. */
function windowStats(agg: Aggregate, spanMs: number): WindowStats {
  if (agg.count === 0) return { requests: 0, rps: 0, errors: 0, errorRatio: 0, p50: 0, p90: 0, p99: 0 };
  const [p50, p90, p99] = agg.hist.quantiles(QUANTILES);
  return {
    requests: agg.count,
    rps: agg.count / (Math.max(spanMs, FINE_MS) / 1000),
    errors: agg.errors,
    errorRatio: agg.errors / agg.count,
    p50,
    p90,
    p99,
  };
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
