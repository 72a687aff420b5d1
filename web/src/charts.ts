import { h, s } from './dom';

/** Small hand-drawn SVG line charts: time on x, one or more series on y, colours from CSS classes. */

export interface Series {
  name: string;
  /** CSS class giving the stroke colour (see style.css: s-blue, s-teal, s-purple, s-red). */
  cls: string;
  /** [epoch ms, value], sorted by time; a non-finite value is a gap (e.g. latency of a minute without requests). */
  points: Array<[number, number]>;
}

export interface ChartOptions {
  title: string;
  series: Series[];
  from: number;
  to: number;
  yFormat: (v: number) => string;
  xFormat: (t: number) => string;
  /** A gap longer than this between two points breaks the line (missing data is not drawn as a slope). */
  gapMs?: number;
}

const W = 420;
const H = 160;
const PAD = { l: 58, r: 10, t: 10, b: 22 };

/** 1, 2, 5 x 10^n at or above v. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  const f = v / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

export function lineChart(o: ChartOptions): HTMLElement {
  const max = niceCeil(Math.max(0, ...o.series.flatMap((x) => x.points.map((p) => p[1]).filter(Number.isFinite))));
  const span = Math.max(1, o.to - o.from);
  const x = (t: number) => PAD.l + ((t - o.from) / span) * (W - PAD.l - PAD.r);
  const y = (v: number) => PAD.t + (1 - v / max) * (H - PAD.t - PAD.b);
  const gap = o.gapMs ?? Infinity;

  const grid = [0, 0.5, 1].map((f) =>
    s(
      'g',
      { class: 'grid' },
      s('line', { x1: PAD.l, x2: W - PAD.r, y1: y(max * f), y2: y(max * f) }),
      s('text', { x: PAD.l - 6, y: y(max * f) + 4, 'text-anchor': 'end' }, f === 0 ? '0' : o.yFormat(max * f)),
    ),
  );
  const xTicks = [o.from, o.from + span / 2, o.to].map((t, i) =>
    s('text', { class: 'axis', x: x(t), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === 2 ? 'end' : 'middle' }, o.xFormat(t)),
  );
  const lines = o.series.map((ser) => {
    let d = '';
    let prev = -Infinity;
    let end: [number, number] | null = null;
    for (const [t, v] of ser.points) {
      if (t < o.from || t > o.to) continue;
      if (!Number.isFinite(v)) {
        prev = -Infinity;
        continue;
      }
      d += `${prev === -Infinity || t - prev > gap ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      prev = t;
      end = [t, v];
    }
    // A dot on the newest point: a series of one point is still visible.
    return s('g', null, s('path', { class: `line ${ser.cls}`, d }), end ? s('circle', { class: `dot ${ser.cls}`, cx: x(end[0]), cy: y(end[1]), r: 2.5 }) : null);
  });

  const last = (ser: Series) => ser.points.filter((p) => Number.isFinite(p[1])).at(-1)?.[1];
  const summary = o.series.map((ser) => `${ser.name} ${last(ser) === undefined ? 'no data' : o.yFormat(last(ser)!)}`).join(', ');
  const svg = s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `${o.title}: ${summary}` },
    grid,
    xTicks,
    lines,
  );
  return h(
    'figure',
    { class: 'chart-box' },
    h(
      'figcaption',
      null,
      h('span', { class: 'chart-title' }, o.title),
      o.series.map((ser) =>
        h('span', { class: 'legend' }, h('i', { class: `swatch ${ser.cls}` }), `${ser.name} `, h('b', null, last(ser) === undefined ? '–' : o.yFormat(last(ser)!))),
      ),
    ),
    svg,
  );
}
