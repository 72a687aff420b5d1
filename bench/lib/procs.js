'use strict';
// Child processes for the benchmark: spawn, wait for a ready line, read RSS, and always clean up.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const OUT_DIR = path.join(REPO, 'bench', 'out'); // git-ignored: temp dirs, profiles

const children = new Set();

// Whatever way the run ends, no process it started outlives it.
function killAll() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}
process.on('exit', () => {
  killAll();
  removeScratch();
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** Registers a child started elsewhere so it is killed when the run ends. */
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const scratch = new Set();

/** A fresh dir under bench/out; removed when the run ends unless `keep` (e.g. CPU profiles). */
function tempDir(prefix, { keep = false } = {}) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const dir = fs.mkdtempSync(path.join(OUT_DIR, prefix));
  if (!keep) scratch.add(dir);
  return dir;
}

function removeScratch() {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  scratch.clear();
}

/**
 * Spawns `cmd args` and resolves once `ready(line)` returns a truthy value for a stdout/stderr line.
 * The result carries the child, its pid and whatever `ready` returned.
 */
function spawnReady(name, cmd, args, ready, opts = {}) {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let buf = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => children.delete(child));
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`${name} did not become ready in ${opts.timeoutMs ?? 30000} ms:\n${out.slice(-2000)}`));
    }, opts.timeoutMs ?? 30000);
    const onData = (d) => {
      const s = d.toString();
      if (out.length < 64 * 1024) out += s; // keep a bounded tail for error messages
      if (done) return;
      buf += s;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const info = ready(line);
        if (info) {
          done = true;
          clearTimeout(timer);
          resolve({
            name,
            child,
            pid: child.pid,
            info,
            output: () => out,
            exited,
            stop: (signal = 'SIGTERM', waitMs = 15000) => stopChild(child, exited, signal, waitMs),
          });
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${name} could not be started: ${err.message}`));
    });
    exited.then(({ code, signal }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${out.slice(-2000)}`));
    });
  });
}

async function stopChild(child, exited, signal, waitMs) {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill(signal);
  let t;
  const timeout = new Promise((r) => (t = setTimeout(() => r(null), waitMs)));
  const r = await Promise.race([exited, timeout]);
  clearTimeout(t);
  if (r === null) {
    child.kill('SIGKILL');
    return exited;
  }
  return r;
}

/** Resident set size of a process in bytes (VmRSS from /proc), or NaN if it cannot be read. */
function rssBytes(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

const TICK_MS = 10; // USER_HZ is 100 on Linux (getconf CLK_TCK)

/** CPU time (user + system) a process has used so far, in ms; NaN if it cannot be read. */
function cpuMs(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

/** Samples the RSS of `pids` every `everyMs` until stop(); returns the maximum seen per pid. */
function sampleRss(pids, everyMs = 200) {
  const max = new Map(pids.map((p) => [p, rssBytes(p)]));
  const timer = setInterval(() => {
    for (const p of pids) {
      const v = rssBytes(p);
      if (!(v <= max.get(p))) max.set(p, v);
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      for (const p of pids) {
        const v = rssBytes(p);
        if (!(v <= max.get(p))) max.set(p, v);
      }
      return max;
    },
  };
}

/** A port that was free a moment ago (for tools that cannot take port 0, like nginx). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` again once if it fails: others rebuilding dist/ on the same machine can make a process
 * fail at start-up (a half-written module), which says nothing about what is measured.
 */
async function retryOnce(fn, log = () => undefined) {
  try {
    return await fn();
  } catch (e) {
    log(`  start failed, retrying once: ${String(e.message).split('\n').slice(0, 4).join(' | ')}`);
    await sleep(3000);
    return fn();
  }
}

function which(bin) {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    const p = path.join(dir, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

function machineLine() {
  const cpus = os.cpus();
  return `${os.type()} ${os.hostname()} ${os.release()} ${os.arch()}; ${cpus.length} CPU (${cpus[0]?.model ?? '?'}); ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`;
}

module.exports = { REPO, OUT_DIR, track, tempDir, spawnReady, rssBytes, cpuMs, sampleRss, freePort, sleep, retryOnce, which, machineLine };
