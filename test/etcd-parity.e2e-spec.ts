import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { etcdAvailable, startEtcd, type EtcdServer } from './support/etcd';
import { api } from './support/http-client';
import { startMesher, type MesherProcess } from './support/mesher-process';

/** One admin call of the script: method, path (`{r1}` is the id a call saved as `r1`), body, and a name to save the answer's id as. */
type Call = [method: string, path: string, body?: unknown, save?: string];

const route = (service: string, weights: number[]) => ({
  service,
  precedence: 1,
  route: weights.map((weight, i) => ({ tags: { version: `${i + 1}.0.0` }, weight })),
});

/** Everything the admin API does, right and wrong: the same answers are expected from either store. */
const SCRIPT: Call[] = [
  ['POST', '/v1/services', { name: 'cart', app: 'shop', description: 'the cart' }],
  ['POST', '/v1/services', { name: 'cart' }],
  ['POST', '/v1/services', { name: 'Bad Name!' }],
  ['GET', '/v1/services/nope'],
  ['POST', '/v1/services/cart/instances', { id: 'c1', endpoint: 'http://127.0.0.1:9001', version: '1.0.0', labels: { zone: 'z1' } }],
  ['POST', '/v1/services/cart/instances', { id: 'c2', endpoint: 'http://127.0.0.1:9001', version: '1.0.0' }],
  ['POST', '/v1/services/cart/instances', { id: 'c3', endpoint: 'not a url' }],
  ['POST', '/v1/services/cart/instances', { id: 'c4', endpoint: 'http://127.0.0.1:9002', version: '2.0.0', weight: 3 }],
  ['POST', '/v1/services/pay/instances', { id: 'c1', endpoint: 'http://127.0.0.1:9003' }],
  ['PUT', '/v1/services/cart/instances/c1', { weight: 5, status: 'DRAINING' }],
  ['PUT', '/v1/services/cart/instances/nope', { weight: 5 }],
  ['PUT', '/v1/services/cart/instances/c1/heartbeat'],
  ['GET', '/v1/services/cart'],
  ['GET', '/v1/services'],
  ['POST', '/v1/routes', route('cart', [100]), 'r1'],
  ['POST', '/v1/routes', { ...route('cart', [100]), id: 'r1' }],
  ['POST', '/v1/routes', route('cart', [50, 40])],
  ['POST', '/v1/routes', route('ghost', [100])],
  ['PUT', '/v1/routes/{r1}', route('cart', [80, 20])],
  ['PUT', '/v1/routes/nope', route('cart', [100])],
  ['GET', '/v1/routes'],
  ['GET', '/v1/routes/{r1}'],
  ['PUT', '/v1/policies/cart', { timeout: { requestMs: 1500 }, retry: { attempts: 2 } }],
  ['PUT', '/v1/policies/ghost', { timeout: { requestMs: 1500 } }],
  ['PUT', '/v1/policies/cart', { timeout: { requestMs: -1 } }],
  ['GET', '/v1/policies'],
  ['POST', '/v1/egress', { id: 'ext', host: 'api.example.com', ports: [443], tls: true }],
  ['POST', '/v1/egress', { id: 'ext', host: 'api.example.com', ports: [443], tls: true }],
  ['POST', '/v1/ingress', { id: 'web', host: 'shop.example.com', pathPrefix: '/', service: 'cart' }],
  ['GET', '/v1/egress'],
  ['GET', '/v1/ingress'],
  ['GET', '/v1/config'],
  ['PUT', '/v1/config?dryRun=true', { services: [{ name: 'cart', instances: [] }], routes: [], policies: {} }],
  ['GET', '/v1/revisions'],
  ['GET', '/v1/revisions/2/diff/3'],
  ['GET', '/v1/revisions/99'],
  ['GET', '/v1/mesher/routeRule/cart'],
  ['DELETE', '/v1/routes/{r1}'],
  ['DELETE', '/v1/routes/{r1}'],
  ['DELETE', '/v1/policies/cart'],
  ['DELETE', '/v1/policies/cart'],
  ['DELETE', '/v1/services/cart/instances/c4'],
  ['DELETE', '/v1/services/cart/instances/c4'],
  ['POST', '/v1/revisions/5/rollback'],
  ['GET', '/v1/services/cart'],
  ['GET', '/v1/revisions?limit=3'],
  ['DELETE', '/v1/services/cart'],
  ['DELETE', '/v1/services/cart'],
  ['GET', '/v1/services'],
  ['GET', '/v1/config'],
];

const TIME_KEYS = new Set(['createdAt', 'updatedAt', 'lastHeartbeat', 'at', 'builtAt', 'lastSyncAt']);

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Answers without what legitimately differs between two runs: times and generated ids. */
function normalise(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(UUID, '<uuid>');
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, TIME_KEYS.has(k) ? '<time>' : normalise(x)]));
  return v;
}

async function run(m: MesherProcess): Promise<Array<{ call: string; status: number; body: unknown }>> {
  const out = [];
  const saved: Record<string, string> = {};
  for (const [method, template, body, save] of SCRIPT) {
    const path = template.replace(/\{(\w+)\}/g, (_, k: string) => saved[k] ?? k);
    const r = await api(m.admin, method, path, body);
    if (save) saved[save] = r.json<{ id: string }>().id;
    let parsed: unknown = r.body;
    try {
      parsed = r.body ? JSON.parse(r.body) : '';
    } catch {
      // YAML or text: compared as it is
    }
    out.push({ call: `${method} ${template}`, status: r.status, body: normalise(parsed) });
  }
  return out;
}

describe('the admin API answers the same on SQLite and on etcd', { skip: etcdAvailable() ? false : 'etcd is not installed' }, () => {
  let etcd: EtcdServer;
  let onEtcd: MesherProcess | undefined;
  let onSqlite: MesherProcess | undefined;
  before(async () => {
    etcd = await startEtcd();
    const [re, rs] = await Promise.allSettled([
      startMesher(['--registry', 'etcd', '--etcd-endpoints', etcd.endpoint], { timeoutMs: 45_000 }),
      startMesher([], { timeoutMs: 45_000 }),
    ]);
    if (re.status === 'fulfilled') onEtcd = re.value;
    if (rs.status === 'fulfilled') onSqlite = rs.value;
    for (const r of [re, rs]) if (r.status === 'rejected') throw r.reason;
  });
  after(async () => {
    await Promise.all([onEtcd?.stop(), onSqlite?.stop()]);
    for (const m of [onEtcd, onSqlite]) if (m) fs.rmSync(m.dataDir, { recursive: true, force: true });
    await etcd?.dispose();
  });

  test(`${SCRIPT.length} calls, right and wrong: same statuses and bodies`, async () => {
    const sqlite = await run(onSqlite!);
    const etcdAnswers = await run(onEtcd!);
    // The script means something: it succeeds, and it fails in each of the ways the API knows.
    const statuses = new Set(sqlite.map((a) => a.status));
    for (const s of [200, 201, 204, 400, 404, 409, 422]) assert.ok(statuses.has(s), `the script sees a ${s}: ${[...statuses].join(', ')}`);
    for (let i = 0; i < SCRIPT.length; i++) assert.deepEqual(etcdAnswers[i], sqlite[i], `call ${i}: ${sqlite[i].call}`);
    // An update answers the whole instance (the SQLite store once blanked the fields the patch left out).
    const updated = sqlite.find((a) => a.call === 'PUT /v1/services/cart/instances/c1')!;
    assert.deepEqual(updated.body, { id: 'c1', service: 'cart', version: '1.0.0', endpoint: 'http://127.0.0.1:9001', labels: { zone: 'z1' }, weight: 5, status: 'DRAINING', registeredBy: 'api', lastHeartbeat: '<time>', ttl: 0 });
  });
});
