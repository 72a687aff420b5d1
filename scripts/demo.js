#!/usr/bin/env node
'use strict';
// npm run demo: a small mesh on loopback. Two versions of a "cart" provider, each behind its own sidecar,
// a "web" consumer sending a steady stream through its sidecar, all sharing one SQLite registry.
// The consumer's sidecar serves the dashboard on 127.0.0.1:30102. Ctrl-C stops everything.
const { spawn } = require('node:child_process');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const bin = path.join(__dirname, '..', 'bin', 'mesher.js');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesher-demo-'));
const children = [];
const servers = [];

function app(version, port) {
  const s = http.createServer((req, res) => {
    // v2 is a little slower and fails now and then, so the dashboard has something to show.
    const fail = version === '2.0.0' && Math.random() < 0.05;
    setTimeout(() => {
      res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ service: 'cart', version, path: req.url }));
    }, version === '2.0.0' ? 15 : 5);
  });
  servers.push(s);
  return new Promise((r) => s.listen(port, '127.0.0.1', () => r(s.address().port)));
}

function mesher(name, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, 'start', '--data-dir', dataDir, '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(p);
    let buf = '';
    p.stdout.on('data', (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.includes('"mesher started"'));
      if (line && !p.started) {
        p.started = true;
        resolve(JSON.parse(line));
      }
    });
    p.on('exit', (code) => !p.started && reject(new Error(`${name} exited with ${code}`)));
  });
}

async function main() {
  const v1 = await app('1.0.0', 0);
  const v2 = await app('2.0.0', 0);
  const first = await mesher('cart-v1', ['--service-name', 'cart', '--service-version', '1.0.0', '--app-port', v1, '--inbound-port', '0', '--proxy-port', '0', '--admin-port', '0']);
  await mesher('cart-v2', ['--service-name', 'cart', '--service-version', '2.0.0', '--app-port', v2, '--inbound-port', '0', '--proxy-port', '0', '--admin-port', '0']);
  const web = await mesher('web', ['--service-name', 'web', '--proxy-port', process.env.DEMO_PROXY_PORT || '30101', '--admin-port', process.env.DEMO_ADMIN_PORT || '30102']);
  // A 90/10 canary between the two versions.
  const rule = JSON.stringify({ service: 'cart', precedence: 1, route: [{ tags: { version: '1.0.0' }, weight: 90 }, { tags: { version: '2.0.0' }, weight: 10 }] });
  await new Promise((r) => {
    const [host, port] = web.admin.split(':');
    const req = http.request({ host, port, method: 'POST', path: '/v1/routes', headers: { 'content-type': 'application/json' } }, (res) => res.resume().on('end', r));
    req.end(rule);
  });
  const [ph, pp] = web.proxy.split(':');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let sent = 0;
  const tick = setInterval(() => {
    for (let i = 0; i < 5; i++) {
      const req = http.request({ host: ph, port: pp, path: `http://cart/items/${sent++ % 50}`, agent }, (res) => res.resume());
      req.on('error', () => undefined);
      req.end();
    }
  }, 50);
  console.log(`\nMesher demo is running (registry ${dataDir}):`);
  console.log(`  dashboard      ${web.dashboard}`);
  console.log(`  consumer proxy http_proxy=http://${web.proxy} curl http://cart/items`);
  console.log(`  provider admin http://${first.admin}/v1/services`);
  console.log('Press Ctrl-C to stop.\n');
  const stop = () => {
    clearInterval(tick);
    agent.destroy();
    let left = children.length;
    for (const c of children) {
      c.once('exit', () => {
        if (--left === 0) {
          for (const s of servers) s.close();
          fs.rmSync(dataDir, { recursive: true, force: true });
          process.exit(0);
        }
      });
      c.kill('SIGTERM');
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  console.error(`demo failed: ${e.message}`);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
