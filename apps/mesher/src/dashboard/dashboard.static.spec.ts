import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { DASHBOARD_DIR, registerDashboard } from './dashboard.static';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function appWith(dir: string): Promise<FastifyInstance> {
  const app = Fastify();
  await registerDashboard(app, dir);
  // Stand-ins for the admin routes that must stay reachable beside the dashboard.
  app.get('/v1/services', async () => [{ name: 'cart' }]);
  app.get('/health/ready', async () => ({ status: 'ok' }));
  await app.ready();
  return app;
}

describe('dashboard static serving', () => {
  it('resolves web/dist at the repository root', () => {
    assert.match(DASHBOARD_DIR, /[\\/]web[\\/]dist$/);
    assert.doesNotMatch(DASHBOARD_DIR, /[\\/]dist[\\/]web[\\/]/);
  });

  it('answers / with a clear message when the dashboard is not built, and leaves other routes alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mesher-dash-'));
    dirs.push(dir);
    const app = await appWith(join(dir, 'missing'));
    try {
      const r = await app.inject({ method: 'GET', url: '/' });
      assert.equal(r.statusCode, 503);
      assert.match(r.headers['content-type'] as string, /^text\/plain/);
      assert.match(r.body, /run `npm run build`/);
      assert.equal((await app.inject({ method: 'GET', url: '/assets/index.js' })).statusCode, 404);
      assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/services' })).json(), [{ name: 'cart' }]);
    } finally {
      await app.close();
    }
  });

  it('serves index.html at / and hashed assets under /assets/, and nothing beyond them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mesher-dash-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="app"></div><script type="module" src="/assets/index-abc.js"></script>');
    writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'not served');
    const app = await appWith(dir);
    try {
      const index = await app.inject({ method: 'GET', url: '/' });
      assert.equal(index.statusCode, 200);
      assert.match(index.headers['content-type'] as string, /^text\/html/);
      assert.equal(index.headers['cache-control'], 'no-cache');
      assert.match(index.headers['content-security-policy'] as string, /default-src 'self'/);
      assert.match(index.body, /<div id="app">/);

      const js = await app.inject({ method: 'GET', url: '/assets/index-abc.js' });
      assert.equal(js.statusCode, 200);
      assert.match(js.headers['content-type'] as string, /javascript/);
      assert.match(js.headers['cache-control'] as string, /immutable/);

      assert.equal((await app.inject({ method: 'GET', url: '/secret.txt' })).statusCode, 404);
      assert.notEqual((await app.inject({ method: 'GET', url: '/assets/../secret.txt' })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/health/ready' })).json().status, 'ok');
      assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/services' })).json(), [{ name: 'cart' }]);
    } finally {
      await app.close();
    }
  });
});
