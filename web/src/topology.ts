import { s } from './dom';
import { fmtMs, fmtPct, fmtRps, healthOf, type Health } from './format';
import type { EdgeStats, InstanceCounts } from './types';

/**
 * Who calls whom, as a layered SVG graph: callers on the left, providers to the right (longest-path layers),
 * edges coloured by error ratio and labelled with requests per second (1-minute window).
 */

const NODE_W = 156;
const NODE_H = 46;
const ROW = 70;
const COL_GAP = 170;
const MARGIN = 16;
const HEALTHS: Health[] = ['idle', 'ok', 'warn', 'bad'];
/** The source name of requests that came in through an edge Mesher from outside the mesh. */
export const OUTSIDE = 'outside';

export interface TopologyInput {
  edges: EdgeStats[];
  /** Registered services and their instance counts; callers that are not registered are drawn dashed. */
  services: Map<string, InstanceCounts>;
}

interface Placed {
  name: string;
  layer: number;
  x: number;
  y: number;
}

function layers(names: string[], edges: Array<[string, string]>): Map<string, number> {
  const out = new Map<string, string[]>(names.map((n) => [n, []]));
  const indegree = new Map(names.map((n) => [n, 0]));
  for (const [a, b] of edges) {
    out.get(a)!.push(b);
    indegree.set(b, indegree.get(b)! + 1);
  }
  // Drop the edges that close a cycle (depth-first from the callers), so the rest is a DAG.
  const state = new Map<string, 'open' | 'done'>();
  const dag: Array<[string, string]> = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    for (const m of out.get(n)!) {
      if (state.get(m) === 'open') continue;
      dag.push([n, m]);
      if (!state.has(m)) visit(m);
    }
    state.set(n, 'done');
  };
  for (const n of [...names].sort((a, b) => indegree.get(a)! - indegree.get(b)! || a.localeCompare(b))) if (!state.has(n)) visit(n);
  // Longest path from the callers; on a DAG this settles within names.length passes.
  const layer = new Map(names.map((n) => [n, 0]));
  for (let pass = 0; pass < names.length; pass++) {
    let changed = false;
    for (const [a, b] of dag) {
      if (layer.get(a)! + 1 > layer.get(b)!) {
        layer.set(b, layer.get(a)! + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return layer;
}

function place(input: TopologyInput): { nodes: Map<string, Placed>; width: number; height: number } {
  const pairs = input.edges.filter((e) => e.source !== e.destination).map((e): [string, string] => [e.source, e.destination]);
  const linked = new Set(input.edges.flatMap((e) => [e.source, e.destination]));
  const names = [...new Set([...linked, ...input.services.keys()])].sort();
  const nodes = new Map<string, Placed>();
  if (pairs.length === 0) {
    // Nothing calls anything yet: a plain grid.
    const cols = Math.min(4, Math.max(1, names.length));
    names.forEach((name, i) => {
      const col = i % cols;
      const row = Math.floor(i / cols);
      nodes.set(name, { name, layer: col, x: MARGIN + col * (NODE_W + COL_GAP / 2), y: MARGIN + row * ROW });
    });
    const rows = Math.ceil(names.length / cols);
    return { nodes, width: MARGIN * 2 + cols * NODE_W + (cols - 1) * (COL_GAP / 2), height: MARGIN * 2 + Math.max(1, rows) * ROW - (ROW - NODE_H) };
  }
  const layer = layers(names, pairs);
  const last = Math.max(...layer.values());
  // Registered services nobody calls yet sit with the providers.
  for (const n of names) if (!linked.has(n)) layer.set(n, Math.max(1, last));
  // Consecutive columns, none empty.
  const used = [...new Set(layer.values())].sort((a, b) => a - b);
  for (const n of names) layer.set(n, used.indexOf(layer.get(n)!));
  const columns: string[][] = used.map(() => []);
  for (const n of names) columns[layer.get(n)!].push(n);
  // The outside world sits at the top of the first column (it calls and is never called).
  if (!input.services.has(OUTSIDE)) columns[0].sort((a, b) => Number(b === OUTSIDE) - Number(a === OUTSIDE));
  const row = new Map<string, number>();
  columns.forEach((col, li) => {
    if (li > 0) {
      // Order by the mean row of the callers: fewer crossings.
      const bary = (n: string) => {
        const from = pairs.filter(([, b]) => b === n).map(([a]) => row.get(a)).filter((r): r is number => r !== undefined);
        return from.length ? from.reduce((x, y) => x + y, 0) / from.length : Infinity;
      };
      col.sort((a, b) => bary(a) - bary(b) || a.localeCompare(b));
    }
    col.forEach((n, i) => row.set(n, i));
  });
  const tallest = Math.max(...columns.map((c) => c.length));
  const backwards = pairs.some(([a, b]) => layer.get(b)! <= layer.get(a)!);
  columns.forEach((col, li) => {
    const offset = ((tallest - col.length) * ROW) / 2;
    col.forEach((n, i) => nodes.set(n, { name: n, layer: li, x: MARGIN + li * (NODE_W + COL_GAP), y: MARGIN + offset + i * ROW }));
  });
  return {
    nodes,
    width: MARGIN * 2 + columns.length * NODE_W + (columns.length - 1) * COL_GAP,
    // Calls back to the left are drawn as arcs under the nodes: leave room for them.
    height: MARGIN * 2 + tallest * ROW - (ROW - NODE_H) + (backwards ? 40 : 0),
  };
}

/** A cloud: traffic from outside the mesh, through the edge listener. */
function outsideNode(n: Placed): SVGGElement {
  const [x, y] = [n.x, n.y];
  const d = `M${x + 14},${y + 44} A12,12 0 0 1 ${x + 10},${y + 20} A18,18 0 0 1 ${x + 40},${y + 6} A28,28 0 0 1 ${x + 90},${y + 4} A22,22 0 0 1 ${x + 132},${y + 12} A12,12 0 0 1 ${x + 146},${y + 30} A10,10 0 0 1 ${x + 142},${y + 44} Z`;
  return s(
    'g',
    { class: 'node node-outside', 'data-node': OUTSIDE },
    s('title', null, 'outside: requests from outside the mesh, received by an edge Mesher and routed by its ingress rules'),
    s('path', { d }),
    s('text', { class: 'node-name', x: x + 24, y: y + 26 }, 'outside'),
    s('text', { class: 'node-sub', x: x + 24, y: y + 39 }, 'edge ingress traffic'),
  );
}

const short = (name: string, max = 20) => (name.length > max ? `${name.slice(0, max - 1)}…` : name);

export function topology(input: TopologyInput): SVGSVGElement {
  const { nodes, width, height } = place(input);
  const defs = s(
    'defs',
    null,
    HEALTHS.map((hl) =>
      s(
        'marker',
        // Fixed size: an arrow scaled with the stroke would swallow a thick edge's end.
        { id: `topo-arrow-${hl}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerUnits: 'userSpaceOnUse', markerWidth: 11, markerHeight: 11, orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0L10,5L0,10z', class: `arrow h-${hl}` }),
      ),
    ),
  );

  const edgeEls = input.edges.map((e) => {
    const a = nodes.get(e.source)!;
    const b = nodes.get(e.destination)!;
    const w = e.windows['1m'];
    const health = healthOf(w.requests, w.errorRatio);
    let d: string;
    let mid: [number, number];
    if (a === b) {
      const x = a.x + NODE_W / 2;
      d = `M${x - 20},${a.y} C${x - 40},${a.y - 40} ${x + 40},${a.y - 40} ${x + 20},${a.y}`;
      mid = [x, a.y - 30];
    } else if (b.layer > a.layer) {
      const [x1, y1, x2, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.x - 2, b.y + NODE_H / 2];
      const c = (x2 - x1) / 2;
      d = `M${x1},${y1} C${x1 + c},${y1} ${x2 - c},${y2} ${x2},${y2}`;
      mid = [(x1 + x2) / 2, (y1 + y2) / 2];
    } else {
      // A call back to the left (or within a column): an arc below the nodes.
      const [x1, y1, x2, y2] = [a.x + NODE_W / 2, a.y + NODE_H, b.x + NODE_W / 2 + 10, b.y + NODE_H + 2];
      const dip = Math.max(y1, y2) + 36;
      d = `M${x1},${y1} C${x1},${dip} ${x2},${dip} ${x2},${y2}`;
      mid = [(x1 + x2) / 2, dip - 8];
    }
    const label = `${fmtRps(w.rps)} rps${w.errors > 0 ? ` · ${fmtPct(w.errorRatio)} err` : ''}`;
    const lw = label.length * 6.4 + 10;
    const stroke = 1.5 + Math.min(4.5, Math.log10(1 + w.rps) * 2);
    return s(
      'g',
      { class: `edge h-${health}`, 'data-edge': `${e.source}>${e.destination}` },
      s('title', null, `${e.source} → ${e.destination}: ${fmtRps(w.rps)} rps, ${fmtPct(w.errorRatio)} errors, p50 ${fmtMs(w.p50)}, p99 ${fmtMs(w.p99)} (last minute)`),
      s('path', { d, 'stroke-width': stroke.toFixed(1), 'marker-end': `url(#topo-arrow-${health})` }),
      s('rect', { class: 'edge-label-bg', x: mid[0] - lw / 2, y: mid[1] - 10, width: lw, height: 18, rx: 4 }),
      s('text', { class: 'edge-label', x: mid[0], y: mid[1] + 3, 'text-anchor': 'middle' }, label),
    );
  });

  const nodeEls = [...nodes.values()].map((n) => {
    const counts = input.services.get(n.name);
    if (n.name === OUTSIDE && !counts) return outsideNode(n);
    const state = !counts ? 'external' : counts.total === 0 || counts.up === 0 ? 'down' : counts.up < counts.total ? 'partial' : 'up';
    const sub = !counts ? 'caller (not registered)' : `${counts.up}/${counts.total} instances up`;
    return s(
      'g',
      { class: `node node-${state}`, 'data-node': n.name },
      s('title', null, `${n.name}: ${sub}`),
      s('rect', { x: n.x, y: n.y, width: NODE_W, height: NODE_H, rx: 8 }),
      s('text', { class: 'node-name', x: n.x + 12, y: n.y + 19 }, short(n.name)),
      s('text', { class: 'node-sub', x: n.x + 12, y: n.y + 36 }, sub),
    );
  });

  return s(
    'svg',
    {
      class: 'topology',
      viewBox: `0 0 ${Math.max(width, 320)} ${Math.max(height, 80)}`,
      style: `max-width:${Math.max(width, 320)}px`,
      role: 'img',
      'aria-label': `Topology: ${nodes.size} services, ${input.edges.length} caller-to-provider edges`,
    },
    defs,
    edgeEls,
    nodeEls,
  );
}
