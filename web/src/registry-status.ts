import { ApiError, get } from './api';
import { h } from './dom';
import type { RegistryStatus } from './types';

const KIND = { sqlite: 'SQLite', etcd: 'etcd' } as const;
const SOURCE = { etcd: 'the last state read from etcd', sqlite: 'the SQLite file', cache: 'the local SQLite cache', empty: 'an empty registry' } as const;

/** Header badge: which registry store this Mesher uses and whether it is connected; the details in its tooltip. */
export function registryBadge(): { el: HTMLElement; refresh(): Promise<void> } {
  const el = h('span', { class: 'ready registry h-idle', role: 'status', 'data-registry': '' }, 'Registry …');
  const show = (text: string, cls: string, title: string) => {
    el.textContent = text;
    el.className = `ready registry ${cls}`;
    el.title = title;
  };
  return {
    el,
    async refresh() {
      let st: RegistryStatus;
      try {
        st = await get<RegistryStatus>('/v1/registry');
      } catch (e) {
        // 401 is the sign-in flow's; an old Mesher without the call shows no registry.
        if (e instanceof ApiError && e.status === 0) show('Registry ?', 'h-idle', e.message);
        return;
      }
      const name = KIND[st.kind] ?? st.kind;
      const where = st.endpoints.length > 0 ? ` at ${st.endpoints.join(', ')}` : '';
      if (st.connected) show(`${name}: connected`, 'h-ok', `Registry: ${name}${where}`);
      else show(`${name}: disconnected`, 'h-bad', `Registry: ${name}${where}: ${st.lastError ?? 'not connected'}; routing continues from ${SOURCE[st.source] ?? st.source}`);
    },
  };
}
