'use strict';
// A large registry for the scale suite: N services with M instances each and route rules on some of
// them, as a RegistryState (the shape @mesher/registry builds snapshots from) and as rows written
// straight into a Mesher SQLite file (tables from libs/persistence/src/migrations).

const VERSIONS = ['1.0.0', '2.0.0'];

const svcName = (i) => `svc-${String(i).padStart(5, '0')}`;

/**
 * services x instancesPerService instances, `rules` route rules (two per service on the first
 * rules/2 services: a header rule and a weighted path rule; every 10th header rule is a regex),
 * a policy on every 10th service. `extra` adds services as they are (e.g. the bench upstream).
 */
function makeState({ services = 2000, instancesPerService = 5, rules = 1000, now = Date.now(), extra = [] } = {}) {
  const state = { revision: 1, services: [], instances: [], routes: [], policies: [] };
  for (let s = 0; s < services; s++) {
    const name = svcName(s);
    state.services.push({ name, app: s % 3 === 0 ? 'shop' : null, description: null });
    for (let k = 0; k < instancesPerService; k++) {
      state.instances.push({
        id: `${name}-i${k}`,
        service: name,
        version: VERSIONS[k % 2],
        endpoint: `http://10.${(s >> 8) & 255}.${s & 255}.${k + 1}:8080`,
        labels: { zone: k % 2 ? 'z1' : 'z2' },
        weight: 100,
        status: 'UP',
        registeredBy: 'api',
        lastHeartbeat: now,
        ttl: 0,
      });
    }
    if (s % 10 === 0) state.policies.push({ service: name, spec: { loadBalancer: { strategy: s % 20 === 0 ? 'LeastRequest' : 'Random' } } });
  }
  for (let r = 0; r < rules; r++) {
    const s = r >> 1;
    const service = svcName(s);
    if (r % 2 === 0) {
      const headers = s % 10 === 0 ? { 'x-user': { regex: '^user-[0-9]+$' } } : { 'x-canary': { exact: '1' } };
      state.routes.push({ id: `${service}-canary`, service, precedence: 2, match: { headers }, route: [{ tags: { version: '2.0.0' }, weight: 100 }], policy: null });
    } else {
      state.routes.push({
        id: `${service}-api`,
        service,
        precedence: 1,
        match: { pathPrefix: '/api/' },
        route: [
          { tags: { version: '1.0.0' }, weight: 80 },
          { tags: { version: '2.0.0' }, weight: 20 },
        ],
        policy: null,
      });
    }
  }
  for (const e of extra) {
    state.services.push(e.service);
    state.instances.push(...e.instances);
  }
  return state;
}

/** Writes `state` into an existing (already migrated) Mesher database, in one transaction. */
function writeToSqlite(dbFile, state) {
  const Database = require('better-sqlite3');
  const db = new Database(dbFile);
  try {
    const now = Date.now();
    const insService = db.prepare('INSERT INTO "service" ("name", "app", "description", "createdAt") VALUES (?, ?, ?, ?)');
    const insInstance = db.prepare(
      'INSERT INTO "instance" ("id", "service", "version", "endpoint", "labels", "weight", "status", "registeredBy", "lastHeartbeat", "ttl", "createdAt") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insRoute = db.prepare('INSERT INTO "route_rule" ("id", "service", "precedence", "match", "route", "policy", "createdAt") VALUES (?, ?, ?, ?, ?, ?, ?)');
    const insPolicy = db.prepare('INSERT INTO "policy" ("service", "spec", "updatedAt") VALUES (?, ?, ?)');
    // The revision carries the whole config, as one written by a config apply would: later admin writes
    // store only their change against it (without it, the first write would have to start the chain).
    const insRevision = db.prepare('INSERT INTO "revision" ("at", "actor", "summary", "diff", "config") VALUES (?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (const s of state.services) insService.run(s.name, s.app, s.description, now);
      for (const i of state.instances) {
        insInstance.run(i.id, i.service, i.version, i.endpoint, JSON.stringify(i.labels), i.weight, i.status, i.registeredBy, i.lastHeartbeat, i.ttl, now);
      }
      for (const r of state.routes) insRoute.run(r.id, r.service, r.precedence, r.match ? JSON.stringify(r.match) : null, JSON.stringify(r.route), r.policy ? JSON.stringify(r.policy) : null, now);
      for (const p of state.policies) insPolicy.run(p.service, JSON.stringify(p.spec), now);
      const config = JSON.stringify(require('@mesher/contracts').configOf(state));
      insRevision.run(now, 'bench', `bench: ${state.services.length} services, ${state.instances.length} instances, ${state.routes.length} routes`, null, config);
    })();
  } finally {
    db.close();
  }
}

module.exports = { makeState, writeToSqlite, svcName };
