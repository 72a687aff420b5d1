import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshConfig } from '@mesher/contracts';
import { api, viaProxy } from './support/http-client';
import { createRule, putPolicy, QUIET, register } from './support/mesh-admin';
import { startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `ok` holds for the answer (generous deadline: the machine is shared). */
async function eventually(what: string, probe: () => Promise<string>, ok: (body: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = await probe();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last answer: ${last}`);
    await sleep(50);
  }
}

/**
 * Writes go into the in-memory registry one service at a time (issue #7): these check, over real processes,
 * that every kind of write still reaches routing, here and in another Mesher sharing the SQLite file, and
 * that revisions stored as deltas still diff and roll back.
 */
describe('incremental registry: every write reaches routing, locally and through a shared SQLite file', () => {
  const dir = tempDir();
  let a: MesherProcess;
  let b: MesherProcess;
  let v1: Upstream;
  let v2: Upstream;
  const viaB = async (path: string) => {
    const r = await viaProxy(b.proxy, 'GET', `http://inc${path}`);
    return `${r.status} ${r.headers['x-mesher-error'] ?? ''} ${r.body}`;
  };

  before(async () => {
    [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
    // Started together on a fresh file: they race to create and migrate it, and both must start.
    // allSettled, so that one failing to start still lets `after` stop the other.
    const started = await Promise.allSettled([startMesher([], { dataDir: dir }), startMesher([], { dataDir: dir })]);
    if (started[0].status === 'fulfilled') a = started[0].value;
    if (started[1].status === 'fulfilled') b = started[1].value;
    for (const r of started) if (r.status === 'rejected') throw r.reason;
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop(), v1?.close(), v2?.close()]);
  });

  test('instances, routes, policies and deletions written through one Mesher route through the other', async () => {
    const id1 = await register(a.admin, 'inc', v1, '1.0.0');
    assert.equal((await viaProxy(a.proxy, 'GET', 'http://inc/x')).body, 'v1 GET /x', 'the writer routes as soon as it answered');
    await eventually('v1 through B', () => viaB('/x'), (s) => s === '200  v1 GET /x');

    const id2 = await register(a.admin, 'inc', v2, '2.0.0');
    const rule = await createRule(a.admin, { service: 'inc', precedence: 1, route: [{ tags: { version: '2.0.0' }, weight: 100 }] });
    // Both versions are registered: only several v2 answers in a row say the rule is in force.
    await eventually('the rule sends everything to v2', async () => (await Promise.all([1, 2, 3, 4, 5].map(() => viaB('/r')))).join('|'), (s) => s === Array(5).fill('200  v2 GET /r').join('|'));
    for (let i = 0; i < 10; i++) assert.equal(await viaB(`/r${i}`), `200  v2 GET /r${i}`);

    assert.equal((await api(a.admin, 'DELETE', `/v1/routes/${rule}`)).status, 204);
    const seen = new Set<string>();
    await eventually('both versions again', async () => (seen.add((await viaB('/b')).split(' ').slice(2).join(' ')), [...seen].sort().join(',')), (s) => s === 'v1 GET /b,v2 GET /b');

    const down = await api(a.admin, 'PUT', `/v1/services/inc/instances/${id2}`, { status: 'DOWN' });
    assert.equal(down.status, 200, down.body);
    await eventually('v2 out of routing', async () => [await viaB('/d'), await viaB('/d'), await viaB('/d')].join('|'), (s) => s === Array(3).fill('200  v1 GET /d').join('|'));

    await putPolicy(a.admin, 'inc', { ...QUIET, fault: { abort: { httpStatus: 418, percent: 100 } } });
    await eventually('the fault policy', () => viaB('/f'), (s) => s.startsWith('418 '));
    assert.equal((await api(a.admin, 'DELETE', '/v1/policies/inc')).status, 204);
    await eventually('the policy gone', () => viaB('/f'), (s) => s === '200  v1 GET /f');

    assert.equal((await api(a.admin, 'DELETE', `/v1/services/inc/instances/${id1}`)).status, 204);
    await eventually('no routable instance', () => viaB('/n'), (s) => s.startsWith('503 '));
    assert.equal((await api(a.admin, 'DELETE', '/v1/services/inc')).status, 204);
    await eventually('the service gone', () => viaB('/g'), (s) => s.startsWith('404 SERVICE_NOT_FOUND'));
    assert.match(await viaProxy(a.proxy, 'GET', 'http://inc/g').then((r) => `${r.status} ${r.headers['x-mesher-error']}`), /^404 SERVICE_NOT_FOUND/);
  });

  test('heartbeats through the admin API keep a TTL instance routable in the other Mesher; without them it leaves', async () => {
    const reg = await api(a.admin, 'POST', '/v1/services/beat/instances', { endpoint: v1.url, ttl: 3 });
    assert.equal(reg.status, 201, reg.body);
    const id = reg.json<{ id: string }>().id;
    await eventually('routable through B', async () => String((await viaProxy(b.proxy, 'GET', 'http://beat/x')).status), (s) => s === '200');
    // 5 s of heartbeats every 250 ms: longer than the 3 s TTL, so only the heartbeats keep it routable.
    const end = Date.now() + 5000;
    let failures = 0;
    let requests = 0;
    while (Date.now() < end) {
      assert.equal((await api(a.admin, 'PUT', `/v1/services/beat/instances/${id}/heartbeat`)).status, 200);
      requests++;
      if ((await viaProxy(b.proxy, 'GET', 'http://beat/x')).status !== 200) failures++;
      await sleep(250);
    }
    assert.ok(requests >= 8, `${requests} heartbeats`);
    assert.equal(failures, 0);
    await eventually('expiry once heartbeats stop', async () => String((await viaProxy(b.proxy, 'GET', 'http://beat/x')).status), (s) => s === '503');
  });

  test('revisions stored as deltas give the configuration as it was after each write; diff and rollback work', async () => {
    const configs = new Map<number, MeshConfig>();
    const newest = async () => (await api(a.admin, 'GET', '/v1/revisions?limit=1')).json<{ items: Array<{ id: number }> }>().items[0].id;
    const step = async (write: () => Promise<unknown>) => {
      await write();
      configs.set(await newest(), (await api(a.admin, 'GET', '/v1/config')).json<MeshConfig>());
    };
    await step(() => register(a.admin, 'rev', v1, '1.0.0'));
    await step(() => register(a.admin, 'rev', v2, '2.0.0'));
    let rule = '';
    await step(async () => (rule = await createRule(a.admin, { service: 'rev', precedence: 3, route: [{ tags: { version: '2.0.0' }, weight: 100 }] })));
    await step(() => putPolicy(a.admin, 'rev', { timeout: { requestMs: 900 } }));
    await step(() => api(a.admin, 'POST', '/v1/services', { name: 'rev-other', description: 'second' }));
    await step(() => api(a.admin, 'DELETE', `/v1/routes/${rule}`));
    for (const [id, cfg] of configs) {
      const r = await api(a.admin, 'GET', `/v1/revisions/${id}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json<{ config: MeshConfig }>().config, cfg, `revision ${id}`);
    }
    const ids = [...configs.keys()];
    const ruleAt = ids[2];
    const diff = (await api(a.admin, 'GET', `/v1/revisions/${ruleAt}/diff/${ids[ids.length - 1]}`)).json<{ changes: Array<{ op: string; kind: string; key: string }> }>();
    assert.deepEqual(diff.changes.map((c) => `${c.op} ${c.kind} ${c.key}`), ['add service rev-other', `remove route ${rule}`, 'add policy rev']);

    const rb = await api(a.admin, 'POST', `/v1/revisions/${ruleAt}/rollback`);
    assert.equal(rb.status, 201, rb.body);
    assert.deepEqual((await api(a.admin, 'GET', '/v1/config')).json(), configs.get(ruleAt));
    // The rollback (a whole-config write) reaches the other Mesher too: the rule is back, v2 only.
    const five = async () => (await Promise.all([1, 2, 3, 4, 5].map(async () => (await viaProxy(b.proxy, 'GET', 'http://rev/x')).body))).join('|');
    await eventually('the rolled-back rule through B', five, (s) => s === Array(5).fill('v2 GET /x').join('|'));
    for (let i = 0; i < 10; i++) assert.equal((await viaProxy(b.proxy, 'GET', `http://rev/y${i}`)).body, `v2 GET /y${i}`);
  });
});

describe('several Meshers started at once on one fresh SQLite file', () => {
  test('all start: the losers of the WAL switch and migration race retry and find the schema made', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = tempDir();
      const started = await Promise.allSettled([0, 1, 2].map(() => startMesher([], { dataDir: dir })));
      await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.stop('SIGKILL') : undefined)));
      const failed = started.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(failed.length, 0, `round ${round}: ${failed.map((r) => String(r.reason).slice(0, 600)).join('\n')}`);
    }
  });
});
