import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { SeriesHistogram, type HistogramSeries } from './series-histogram';

/**
 * Prometheus metrics of one Mesher, on its own registry (never prom-client's global one, so two
 * instances in one process, e.g. in tests, do not collide).
 *
 * Hot-path calls reuse labelled children cached by a joined key, skipping prom-client's label-object
 * building per request. Every cache is capped: label values such as `source` come from request headers,
 * and past the cap new combinations are counted under `~overflow` instead of growing without bound.
 */

export type TrafficDirection = 'outbound' | 'inbound' | 'edge';

export interface RequestMetricLabels {
  direction: TrafficDirection;
  source: string;
  destination: string;
  /** Matched route rule id, null when none matched. */
  route: string | null;
  /** HTTP status sent back; reported as its class ('2xx' ...) to bound cardinality. */
  status: number;
  /** Mesher error code when Mesher produced the response itself. */
  code: string | null;
}

export type CircuitStateName = 'closed' | 'half-open' | 'open';

export interface InstanceCount {
  service: string;
  status: string;
  count: number;
}

export interface MesherMetricsOptions {
  /** Also collect prom-client's process/Node.js default metrics (off in unit tests). */
  defaultMetrics?: boolean;
  /** Clock for mesher_snapshot_age_seconds, epoch ms; Date.now by default. */
  now?: () => number;
  /** Distinct label combinations kept per metric before `~overflow`. Default 5,000. */
  maxSeriesPerMetric?: number;
}

/** Label value used once a metric's label-combination cap is reached. */
export const METRICS_OVERFLOW_LABEL = '~overflow';

/** Request durations through a proxy: sub-millisecond local hops up to long upstream timeouts. */
export const REQUEST_DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

const CIRCUIT_STATE_VALUES: Record<CircuitStateName, number> = { closed: 0, 'half-open': 1, open: 2 };
const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];
const SEP = '\u0001';
const OVF = METRICS_OVERFLOW_LABEL;
/** Header-borne label values are cut to this length; a label is not a place for a payload. */
const MAX_LABEL_LENGTH = 128;

interface Labelled<C> {
  labels(...values: string[]): C;
}

type CounterChild = Counter.Internal;

/**
 * One series of mesher_requests_total, counted in place: the hot path adds 1 to a number, and the
 * counter reads the series when scraped (prom-client's child inc() hashes and validates its labels on
 * every call).
 */
interface RequestSeries {
  labels: Record<string, string>;
  value: number;
}
type GaugeChild = Gauge.Internal<string>;

/** Cached children of one (direction, source, destination). */
interface EdgeChildren {
  duration: HistogramSeries;
  /** Request counters by status class index, then by `route SEP code`; unused for the overflow edge. */
  requests: Array<Map<string, RequestSeries> | undefined>;
  overflow: boolean;
}

export class MesherMetrics {
  readonly registry = new Registry();

  private readonly requestsTotal: Counter<string>;
  private readonly requestDuration: SeriesHistogram;
  private readonly retriesTotal: Counter<string>;
  private readonly rateLimitedTotal: Counter<string>;
  private readonly faultsTotal: Counter<string>;
  private readonly circuitState: Gauge<string>;
  private readonly ejectedInstances: Gauge<string>;
  private readonly instances: Gauge<string>;
  private readonly snapshotRevision: Gauge<string>;

  // direction -> source -> destination: lookups with the caller's strings, no key concatenation.
  private readonly edges: Record<TrafficDirection, Map<string, Map<string, EdgeChildren>>> = {
    outbound: new Map(),
    inbound: new Map(),
    edge: new Map(),
  };
  private readonly overflowEdges = new Map<TrafficDirection, EdgeChildren>();
  private readonly overflowRequests = new Map<TrafficDirection, RequestSeries>();
  private readonly requestSeriesList: RequestSeries[] = [];
  private edgeSeries = 0;
  private requestSeries = 0;
  private readonly retryChildren = new Map<string, CounterChild>();
  private readonly rateLimitedChildren = new Map<string, CounterChild>();
  private readonly faultChildren = new Map<string, CounterChild>();
  private readonly circuitChildren = new Map<string, GaugeChild>();
  private readonly ejectedChildren = new Map<string, GaugeChild>();

  private readonly maxSeries: number;
  private readonly now: () => number;
  private snapshotBuiltAt: number | null = null;

  constructor(options: MesherMetricsOptions = {}) {
    this.now = options.now ?? Date.now;
    const maxSeries = options.maxSeriesPerMetric ?? 5_000;
    if (!Number.isInteger(maxSeries) || maxSeries < 1) {
      throw new RangeError(`maxSeriesPerMetric must be a positive integer, got ${maxSeries}`);
    }
    this.maxSeries = maxSeries;
    const registers = [this.registry];

    this.requestsTotal = new Counter({
      name: 'mesher_requests_total',
      help: 'Requests handled by the proxy, by direction, edge, route, status class and Mesher error code.',
      labelNames: ['direction', 'source', 'destination', 'route', 'status_class', 'code'],
      registers,
      collect: () => {
        const counter = this.requestsTotal;
        counter.reset();
        for (const s of this.requestSeriesList) counter.inc(s.labels, s.value);
      },
    });
    // Observed on every request: series kept per edge, no label hashing per observation.
    this.requestDuration = new SeriesHistogram(
      'mesher_request_duration_seconds',
      'Request duration through the proxy, all attempts included.',
      REQUEST_DURATION_BUCKETS,
      registers,
    );
    this.retriesTotal = new Counter({
      name: 'mesher_retries_total',
      help: 'Retry attempts sent to a destination.',
      labelNames: ['destination'],
      registers,
    });
    this.rateLimitedTotal = new Counter({
      name: 'mesher_rate_limited_total',
      help: 'Requests rejected by a rate limit.',
      labelNames: ['destination', 'scope'],
      registers,
    });
    this.faultsTotal = new Counter({
      name: 'mesher_faults_injected_total',
      help: 'Faults injected by policy.',
      labelNames: ['destination', 'kind'],
      registers,
    });
    this.circuitState = new Gauge({
      name: 'mesher_circuit_state',
      help: 'Circuit breaker state per destination: 0 closed, 1 half-open, 2 open.',
      labelNames: ['destination'],
      registers,
    });
    this.ejectedInstances = new Gauge({
      name: 'mesher_ejected_instances',
      help: 'Instances currently ejected by outlier detection.',
      labelNames: ['destination'],
      registers,
    });
    this.instances = new Gauge({
      name: 'mesher_instances',
      help: 'Registered instances per service and status.',
      labelNames: ['service', 'status'],
      registers,
    });
    this.snapshotRevision = new Gauge({
      name: 'mesher_snapshot_revision',
      help: 'Store revision of the routing snapshot in use.',
      registers,
    });
    const snapshotAge: Gauge<string> = new Gauge({
      name: 'mesher_snapshot_age_seconds',
      help: 'Seconds since the routing snapshot in use was built (0 before the first one).',
      registers,
      // Computed at scrape time: the age grows between snapshots without anyone calling us.
      collect: () => {
        const builtAt = this.snapshotBuiltAt;
        snapshotAge.set(builtAt === null ? 0 : Math.max(0, (this.now() - builtAt) / 1000));
      },
    });

    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observeRequest(labels: RequestMetricLabels, durationMs: number): void {
    const edge = this.edges[labels.direction].get(labels.source)?.get(labels.destination) ?? this.newEdge(labels);
    edge.duration.observe(durationMs >= 0 ? durationMs / 1000 : 0);
    if (edge.overflow) {
      this.overflowRequestCounter(labels.direction).value++;
      return;
    }
    const cls = statusClassIndex(labels.status);
    const byKey = (edge.requests[cls] ??= new Map());
    const route = labels.route ?? '';
    const key = labels.code === null ? route : route + SEP + labels.code;
    (byKey.get(key) ?? this.newRequestCounter(byKey, key, labels, cls)).value++;
  }

  incRetry(destination: string): void {
    (
      this.retryChildren.get(destination) ??
      this.newChild(this.retryChildren, destination, this.retriesTotal, [destination], [OVF])
    ).inc();
  }

  incRateLimited(destination: string, scope: string): void {
    const key = destination + SEP + scope;
    (
      this.rateLimitedChildren.get(key) ??
      this.newChild(this.rateLimitedChildren, key, this.rateLimitedTotal, [destination, scope], [OVF, OVF])
    ).inc();
  }

  incFault(destination: string, kind: string): void {
    const key = destination + SEP + kind;
    (this.faultChildren.get(key) ?? this.newChild(this.faultChildren, key, this.faultsTotal, [destination, kind], [OVF, OVF])).inc();
  }

  /** Accepts the state name or its gauge value (0 closed, 1 half-open, 2 open). */
  setCircuitState(destination: string, state: CircuitStateName | 0 | 1 | 2): void {
    const value = typeof state === 'number' ? state : CIRCUIT_STATE_VALUES[state];
    (
      this.circuitChildren.get(destination) ??
      this.newChild(this.circuitChildren, destination, this.circuitState, [destination], [OVF])
    ).set(value);
  }

  setEjected(destination: string, n: number): void {
    (
      this.ejectedChildren.get(destination) ??
      this.newChild(this.ejectedChildren, destination, this.ejectedInstances, [destination], [OVF])
    ).set(n);
  }

  /** Replaces all instance counts, so services or statuses that disappeared stop being reported. */
  setInstances(counts: ReadonlyArray<InstanceCount>): void {
    // reset and set run in one synchronous turn: a scrape never sees the gauge half-filled.
    this.instances.reset();
    for (const { service, status, count } of counts) this.instances.set({ service, status }, count);
  }

  /** `builtAt` is epoch ms; the age is computed when scraped. */
  setSnapshot(revision: number, builtAt: number): void {
    this.snapshotRevision.set(revision);
    this.snapshotBuiltAt = builtAt;
  }

  /** Text exposition format for GET /metrics. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  private newEdge(labels: RequestMetricLabels): EdgeChildren {
    const { direction, source, destination } = labels;
    if (this.edgeSeries >= this.maxSeries) {
      let edge = this.overflowEdges.get(direction);
      if (edge === undefined) {
        edge = { duration: this.requestDuration.series({ direction, source: OVF, destination: OVF }), requests: [], overflow: true };
        this.overflowEdges.set(direction, edge);
      }
      return edge;
    }
    const edge: EdgeChildren = {
      duration: this.requestDuration.series({ direction, source: clip(source), destination: clip(destination) }),
      requests: [],
      overflow: false,
    };
    const bySource = this.edges[direction];
    let byDestination = bySource.get(source);
    if (byDestination === undefined) bySource.set(source, (byDestination = new Map()));
    byDestination.set(destination, edge);
    this.edgeSeries++;
    return edge;
  }

  private newRequestCounter(
    byKey: Map<string, RequestSeries>,
    key: string,
    labels: RequestMetricLabels,
    cls: number,
  ): RequestSeries {
    // At the cap nothing is cached, so the maps stop growing; these requests take this slow path.
    if (this.requestSeries >= this.maxSeries) return this.overflowRequestCounter(labels.direction);
    const series = this.addRequestSeries(
      labels.direction,
      clip(labels.source),
      clip(labels.destination),
      clip(labels.route ?? ''),
      STATUS_CLASSES[cls],
      clip(labels.code ?? ''),
    );
    byKey.set(key, series);
    this.requestSeries++;
    return series;
  }

  private overflowRequestCounter(direction: TrafficDirection): RequestSeries {
    let series = this.overflowRequests.get(direction);
    if (series === undefined) {
      series = this.addRequestSeries(direction, OVF, OVF, OVF, OVF, OVF);
      this.overflowRequests.set(direction, series);
    }
    return series;
  }

  private addRequestSeries(direction: string, source: string, destination: string, route: string, statusClass: string, code: string): RequestSeries {
    const series = { labels: { direction, source, destination, route, status_class: statusClass, code }, value: 0 };
    this.requestSeriesList.push(series);
    return series;
  }

  /** Slow path of every cached metric: creates the child, or falls back to overflow at the cap. */
  private newChild<C>(
    cache: Map<string, C>,
    key: string,
    metric: Labelled<C>,
    values: string[],
    overflowValues: string[],
  ): C {
    if (cache.size >= this.maxSeries) {
      const overflowKey = SEP + overflowValues.join(SEP);
      let child = cache.get(overflowKey);
      if (child === undefined) {
        child = metric.labels(...overflowValues);
        cache.set(overflowKey, child);
      }
      return child;
    }
    const child = metric.labels(...values.map(clip));
    cache.set(key, child);
    return child;
  }
}

/** Index into STATUS_CLASSES: 1..5 for 1xx..5xx, 0 for anything else (no response, garbage). */
function statusClassIndex(status: number): number {
  return status >= 100 && status < 600 ? Math.floor(status / 100) : 0;
}

function clip(value: string): string {
  return value.length > MAX_LABEL_LENGTH ? value.slice(0, MAX_LABEL_LENGTH) : value;
}
