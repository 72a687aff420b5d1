import * as http from 'node:http';
import * as https from 'node:https';
import type { HealthCheckSpec, InstanceRecord } from '@mesher/contracts';
import { HealthState } from '@mesher/policies';
import type { RegistrySnapshot } from '@mesher/registry';
import { meshClientTls } from './mesh-identity';
import type { TlsMaterial } from './tls-material';

export type Prober = (endpoint: string, path: string, timeoutMs: number, inst?: InstanceRecord) => Promise<boolean>;

/**
 * GET <endpoint><path>; healthy when it answers 2xx/3xx within the timeout. An https:// sidecar instance
 * is probed with mesh TLS, as requests reach it; other https:// endpoints with the system CAs.
 */
export function createHttpProber(meshTls?: () => TlsMaterial | null): Prober {
  return (endpoint, path, timeoutMs, inst) =>
    new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(path, endpoint.endsWith('/') ? endpoint : endpoint + '/');
      } catch {
        resolve(false);
        return;
      }
      const secure = url.protocol === 'https:';
      let tls = {};
      if (secure && inst?.registeredBy.startsWith('sidecar:')) {
        const m = meshTls?.() ?? null;
        if (!m?.ca) return resolve(false);
        tls = meshClientTls(inst.service, m);
      }
      const onResponse = (res: http.IncomingMessage) => {
        res.resume();
        const s = res.statusCode ?? 0;
        resolve(s >= 200 && s < 400);
      };
      const opts = { agent: false as const, timeout: timeoutMs, ...tls };
      const req = secure ? https.get(url, opts, onResponse) : http.get(url, opts, onResponse);
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
}

export const httpProber: Prober = createHttpProber();

interface Checked {
  spec: HealthCheckSpec;
  key: string;
  timer: NodeJS.Timeout;
  states: Map<string, HealthState>;
  instances: readonly InstanceRecord[];
}

/**
 * Active health checks per service (policy.healthCheck): probes every instance on an interval and keeps
 * the set of unhealthy ones, which the balancer skips just like ejected instances.
 */
export class ActiveHealthChecker {
  private readonly services = new Map<string, Checked>();
  private readonly unhealthyByService = new Map<string, Set<string>>();

  constructor(private readonly prober: Prober = httpProber) {}

  /** Ids of instances of `service` that failed their checks (empty when checks are off). */
  unhealthy(service: string): ReadonlySet<string> | undefined {
    return this.unhealthyByService.get(service);
  }

  sync(snapshot: RegistrySnapshot, specOf: (service: string) => HealthCheckSpec | undefined): void {
    for (const [name, c] of this.services) {
      if (!snapshot.services.has(name) || !specOf(name)) this.stopService(name, c);
    }
    for (const [name, entry] of snapshot.services) {
      const spec = specOf(name);
      if (!spec) continue;
      const key = JSON.stringify(spec);
      let c = this.services.get(name);
      if (c && c.key !== key) {
        this.stopService(name, c);
        c = undefined;
      }
      if (!c) {
        const states = new Map<string, HealthState>();
        const checked: Checked = { spec, key, states, instances: entry.allInstances, timer: setInterval(() => void this.round(name), spec.intervalMs) };
        checked.timer.unref();
        this.services.set(name, checked);
        this.unhealthyByService.set(name, new Set());
        c = checked;
        void this.round(name);
      }
      c.instances = entry.allInstances;
      const ids = new Set(entry.allInstances.map((i) => i.id));
      for (const id of c.states.keys()) if (!ids.has(id)) c.states.delete(id);
      const bad = this.unhealthyByService.get(name)!;
      for (const id of bad) if (!ids.has(id)) bad.delete(id);
    }
  }

  /** One probe of every instance; exposed for tests. */
  async round(service: string): Promise<void> {
    const c = this.services.get(service);
    if (!c) return;
    await Promise.all(
      c.instances.map(async (inst) => {
        const ok = await this.prober(inst.endpoint, c.spec.path, c.spec.timeoutMs, inst);
        if (this.services.get(service) !== c) return;
        let st = c.states.get(inst.id);
        if (!st) c.states.set(inst.id, (st = new HealthState(c.spec.healthyThreshold, c.spec.unhealthyThreshold, true)));
        const healthy = st.record(ok);
        const bad = this.unhealthyByService.get(service)!;
        if (healthy) bad.delete(inst.id);
        else bad.add(inst.id);
      }),
    );
  }

  close(): void {
    for (const [name, c] of this.services) this.stopService(name, c);
  }

  private stopService(name: string, c: Checked): void {
    clearInterval(c.timer);
    this.services.delete(name);
    this.unhealthyByService.delete(name);
  }
}
