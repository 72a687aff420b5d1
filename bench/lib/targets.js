'use strict';
// What the benchmark points its load at: the upstream, the bare http-proxy forwarder, Mesher (one
// and two hops) and nginx. Each start function resolves to
// {name, url, host, pids: [pid...] (proxy processes whose RSS we report), stop()}.
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { REPO, spawnReady, tempDir, freePort, sleep, which, track } = require('./procs');
const { proxyCommand } = require('./cpus');

const MESHER_BIN = path.join(REPO, 'bin', 'mesher.js');
const jsonLine = (pred) => (line) => {
  if (!line.startsWith('{')) return null;
  try {
    const o = JSON.parse(line);
    return pred(o) ? o : null;
  } catch {
    return null;
  }
};

/** One HTTP request; resolves {status, headers, body}. */
function request(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent: false,
        headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...headers },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** Polls until `url` (with Host `host`) answers 200 and `check(res)` holds; bounded in time. */
async function waitRoutable(url, host, check = () => true, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    try {
      const r = await request('GET', url, { headers: host ? { host } : {} });
      if (r.status === 200 && check(r)) return r;
      last = `${r.status} ${r.body.slice(0, 200)}`;
    } catch (e) {
      last = e.message;
    }
    await sleep(100);
  }
  throw new Error(`${url} (Host: ${host}) not routable after ${timeoutMs} ms: ${last}`);
}

async function startUpstream() {
  const p = await spawnReady('upstream', process.execPath, [path.join(__dirname, '..', 'servers', 'upstream.server.js')], jsonLine((o) => o.ready));
  const url = `http://127.0.0.1:${p.info.port}`;
  return { name: 'upstream', url: url + '/', base: url, port: p.info.port, host: null, pids: [], proc: p, stop: () => p.stop() };
}

/**
 * The bare forwarder; with `nodeHttp`, written with node:http alone (Mesher's engine), and with
 * `meshHeaders`, sending the headers Mesher must send (reference rows).
 */
async function startBareProxy(upstream, { nodeArgs = [], nodeHttp = false, meshHeaders = false } = {}) {
  const script = path.join(__dirname, '..', 'servers', 'bare-proxy.server.js');
  const args = [...nodeArgs, script, upstream.base, ...(nodeHttp ? ['--node-http'] : []), ...(meshHeaders ? ['--mesh-headers'] : [])];
  const name = `bare ${nodeHttp ? 'node:http' : 'http-proxy'}${meshHeaders ? ' + mesh headers' : ''}`;
  const p = await spawnReady(name, ...proxyCommand(process.execPath, args), jsonLine((o) => o.ready));
  const url = `http://127.0.0.1:${p.info.port}/`;
  await waitRoutable(url, 'bench');
  return { name, url, host: 'bench', pids: [p.pid], stop: () => p.stop() };
}


/** Mesher's outbound handler from the libs alone (no Nest app, no observer): bench/servers/core-proxy.server.js. */
async function startCoreProxy(upstream, { nodeArgs = [] } = {}) {
  const script = path.join(__dirname, '..', 'servers', 'core-proxy.server.js');
  const p = await spawnReady('proxy-core', ...proxyCommand(process.execPath, [...nodeArgs, script, upstream.base]), jsonLine((o) => o.ready));
  const url = `http://127.0.0.1:${p.info.port}/`;
  await waitRoutable(url, 'bench');
  return { name: 'proxy-core libs only', url, host: 'bench', pids: [p.pid], stop: () => p.stop() };
}

/**
 * `node [nodeArgs] bin/mesher.js start` on free ports. Resolves with the process and the addresses
 * from its start-up line ({proxy, admin, inbound} as host:port).
 */
function startMesherProcess(args, { dataDir = tempDir('mesher-'), nodeArgs = [], env = {} } = {}) {
  return spawnReady(
    'mesher',
    ...proxyCommand(process.execPath, [...nodeArgs, MESHER_BIN, 'start', '--proxy-port', '0', '--admin-port', '0', '--data-dir', dataDir, '--log-level', 'warn', ...args]),
    jsonLine((o) => o.msg === 'mesher started'),
    { env, timeoutMs: 60_000 },
  ).then((p) => Object.assign(p, { dataDir }));
}

/** Registers `endpoint` as an instance of `service` through the admin API. */
async function registerInstance(admin, service, endpoint) {
  const r = await request('POST', `http://${admin}/v1/services/${service}/instances`, { body: { endpoint } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`registering ${endpoint} for ${service} failed: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

/** Consumer-side Mesher -> upstream, the instance registered through the admin API. */
async function startMesherOneHop(upstream, opts = {}) {
  const m = await startMesherProcess([], opts);
  await registerInstance(m.info.admin, 'bench', upstream.base);
  const url = `http://${m.info.proxy}/`;
  await waitRoutable(url, 'bench');
  return { name: 'mesher 1 hop', url, host: 'bench', pids: [m.pid], mesher: m, stop: () => m.stop() };
}

/**
 * Consumer Mesher -> provider Mesher (inbound) -> upstream. Both share one data dir: the provider
 * registers itself (sidecar self-registration) and the consumer sees it through the shared SQLite file.
 */
async function startMesherTwoHops(upstream) {
  const dataDir = tempDir('mesher-2hop-');
  const provider = await startMesherProcess(['--service-name', 'bench', '--app-port', String(upstream.port), '--inbound-port', '0'], { dataDir });
  let consumer;
  try {
    consumer = await startMesherProcess(['--service-name', 'bench-client'], { dataDir });
    const url = `http://${consumer.info.proxy}/`;
    // Two Via entries on the response prove both sidecars are on the path.
    await waitRoutable(url, 'bench', (r) => String(r.headers.via ?? '').split(',').length >= 2);
    return {
      name: 'mesher 2 hops',
      url,
      host: 'bench',
      pids: [consumer.pid, provider.pid],
      stop: async () => {
        await consumer.stop();
        await provider.stop();
      },
    };
  } catch (e) {
    await consumer?.stop();
    await provider.stop();
    throw e;
  }
}

/** nginx with one worker and upstream keep-alive, in the foreground, all files in a temp dir. */
async function startNginx(upstream) {
  const bin = which('nginx');
  if (!bin) return null;
  const dir = tempDir('nginx-');
  const port = await freePort();
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  upstream bench_upstream {
    server 127.0.0.1:${upstream.port};
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering on;
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  // nginx prints nothing when it starts in the foreground: ready is when the port answers.
  const child = track(spawn(...proxyCommand(bin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')]), { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}/`;
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  try {
    await Promise.race([waitRoutable(url, 'bench', () => true, 10_000), exited.then((c) => Promise.reject(new Error(`nginx exited ${c}: ${out}`)))]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    name: 'nginx',
    url,
    host: 'bench',
    pids: [child.pid],
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

module.exports = { request, waitRoutable, startUpstream, startBareProxy, startCoreProxy, startMesherProcess, registerInstance, startMesherOneHop, startMesherTwoHops, startNginx };
