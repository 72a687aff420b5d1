import { ApiError, enc, get } from '../api';
import { h, mount } from '../dom';
import { fmtMs } from '../format';
import type { CircuitState, InstanceRuntime, ServiceRuntime } from '../types';

/**
 * This Mesher's data-plane view (GET /v1/runtime/:service) on the Services page: the circuit breaker of each
 * service and each instance's health as the proxy sees it (ejected by outlier detection, failing active health
 * checks, routable). Cells are filled in place, so the 3-second refresh never rebuilds a card under the user.
 */

const CIRCUIT: Record<CircuitState, [cls: string, text: string, title: string]> = {
  closed: ['ok', 'circuit closed', 'the circuit breaker lets requests through'],
  'half-open': ['warn', 'circuit half-open', 'the circuit breaker is letting a few trial requests through'],
  open: ['bad', 'circuit open', 'the circuit breaker is refusing requests (503 CIRCUIT_OPEN)'],
  off: ['idle', 'no circuit breaker', 'no circuit breaker is configured for this service'],
};

export type InstanceHealth = 'routable' | 'ejected' | 'unhealthy' | 'down' | 'not-routable';

/** The one word that matters most for an instance, worst first. */
export function instanceHealth(i: InstanceRuntime): InstanceHealth {
  if (i.status !== 'UP') return 'down';
  if (i.unhealthy) return 'unhealthy';
  if (i.ejected) return 'ejected';
  return i.routable ? 'routable' : 'not-routable';
}

/** null: this Mesher has no runtime for the service (not in its snapshot yet, or an older Mesher). */
export async function loadRuntime(names: string[]): Promise<Map<string, ServiceRuntime | null>> {
  const out = new Map<string, ServiceRuntime | null>();
  await Promise.all(
    names.map(async (n) => {
      try {
        out.set(n, await get<ServiceRuntime>(`/v1/runtime/${enc(n)}`));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) out.set(n, null);
        // anything else (a blip): keep showing what was there
      }
    }),
  );
  return out;
}

function badges(i: InstanceRuntime): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (i.status !== 'UP') out.push(h('span', { class: 'badge h-warn' }, `${i.status.toLowerCase()}: not routable`));
  if (i.unhealthy) out.push(h('span', { class: 'badge h-bad', title: 'the active health check is failing' }, 'failing health checks'));
  if (i.ejected) out.push(h('span', { class: 'badge h-bad', title: 'ejected by outlier detection after consecutive errors' }, 'ejected'));
  if (out.length === 0) out.push(i.routable ? h('span', { class: 'badge h-ok' }, 'routable') : h('span', { class: 'badge h-warn' }, 'not routable'));
  return out;
}

export function applyRuntime(root: HTMLElement, states: Map<string, ServiceRuntime | null>): void {
  for (const el of root.querySelectorAll<HTMLElement>('[data-circuit]')) {
    const st = states.get(el.dataset.circuit!);
    if (st === undefined) continue;
    const [cls, text, title] = st ? CIRCUIT[st.circuit] ?? CIRCUIT.off : ['idle', 'no runtime state', 'this Mesher has not built a data-plane state for the service yet'];
    el.className = `badge h-${cls}`;
    el.textContent = text;
    el.title = title;
    el.dataset.state = st?.circuit ?? 'none';
  }
  for (const cell of root.querySelectorAll<HTMLElement>('[data-runtime]')) {
    // Service names never hold '/' (they are URL path segments); instance ids may.
    const key = cell.dataset.runtime!;
    const cut = key.indexOf('/');
    const [svc, id] = [key.slice(0, cut), key.slice(cut + 1)];
    const st = states.get(svc);
    if (st === undefined) continue;
    const i = st?.instances.find((x) => x.id === id);
    if (!i) {
      cell.dataset.health = 'none';
      mount(cell, h('span', { class: 'muted' }, '–'));
      continue;
    }
    cell.dataset.health = instanceHealth(i);
    mount(cell, h('div', { class: 'badges' }, badges(i)), h('div', { class: 'small muted' }, `${i.inflight} in flight · ${fmtMs(i.latencyMs)}`));
  }
}

/** The empty cell of an instance row, filled by applyRuntime. */
export const runtimeCell = (service: string, id: string): HTMLElement => h('td', { 'data-runtime': `${service}/${id}` }, h('span', { class: 'muted' }, '…'));

/** The circuit badge in a service card's header, filled by applyRuntime. */
export const circuitBadge = (service: string): HTMLElement => h('span', { class: 'badge h-idle', 'data-circuit': service }, 'circuit …');
