import type { EgressRuleRecord, InstanceRecord } from '@mesher/contracts';
import { findEgress, type RegistrySnapshot, type ServiceEntry } from '@mesher/registry';
import { ServiceRuntime } from './service-runtime';

interface EgressTarget {
  entry: ServiceEntry;
  runtime: ServiceRuntime;
}

/**
 * External hosts let through by egress rules, each treated as a one-instance service named by its host,
 * so the same timeout, retry, breaker, rate-limit and metrics code applies. Entries are made on first use
 * and kept per snapshot (bounded); runtimes survive snapshot swaps while the rule stays the same.
 */
export class EgressTable {
  private snapshot: RegistrySnapshot | null = null;
  private readonly entries = new Map<string, EgressTarget>();

  constructor(private readonly max = 1000) {}

  /** The service-like target for host:port, or null when no egress rule allows it. */
  resolve(snapshot: RegistrySnapshot, host: string, port: number, now: number): EgressTarget | null {
    if (snapshot.egress.length === 0) return null;
    const rule = findEgress(snapshot.egress, host, port);
    if (!rule) return null;
    if (this.snapshot !== snapshot) {
      // Snapshots share the egress list while no egress rule changed: then there is nothing to compare.
      const same = this.snapshot?.egress === snapshot.egress;
      this.snapshot = snapshot;
      // Keep runtimes whose rule is unchanged; drop the rest.
      if (!same) {
        for (const [key, t] of this.entries) {
          const still = snapshot.egress.find((r) => r.id === key.split('|')[0]);
          if (!still || JSON.stringify(still) !== JSON.stringify(ruleOf(t.entry))) this.entries.delete(key);
        }
      }
    }
    const key = `${rule.id}|${host}|${port}`;
    let t = this.entries.get(key);
    if (!t) {
      if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
      const entry = entryFor(rule, host, port);
      t = { entry, runtime: new ServiceRuntime(host, entry, now) };
      this.entries.set(key, t);
    }
    return t;
  }
}

const RULE = Symbol('egress-rule');
type EgressEntry = ServiceEntry & { [RULE]: EgressRuleRecord };
const ruleOf = (e: ServiceEntry) => (e as EgressEntry)[RULE];

function entryFor(rule: EgressRuleRecord, host: string, port: number): ServiceEntry {
  // TLS origination: the app speaks http:// to Mesher; Mesher speaks https:// (port 80 maps to 443).
  const scheme = rule.tls ? 'https' : 'http';
  const upstreamPort = rule.tls && port === 80 ? 443 : port;
  const inst: InstanceRecord = {
    id: `egress:${host}:${upstreamPort}`,
    service: host,
    version: 'external',
    endpoint: `${scheme}://${host}:${upstreamPort}`,
    labels: {},
    weight: 100,
    status: 'UP',
    registeredBy: `egress:${rule.id}`,
    lastHeartbeat: 0,
    ttl: 0,
  };
  const entry: EgressEntry = {
    name: host,
    record: { name: host, app: null, description: `external host (egress rule ${rule.id})` },
    allInstances: [inst],
    instances: [inst],
    routes: [],
    policy: rule.policy,
    [RULE]: rule,
  };
  return entry;
}
