import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { Etcd3 } from 'etcd3';
import { tempDir } from './mesher-process';

/** A real etcd member (Debian's etcd-server) on free loopback ports with its own data dir. */
export interface EtcdServer {
  /** The member's name in its cluster (`default` for a single member). */
  name: string;
  /** Client URL, e.g. http://127.0.0.1:41234 (https:// when started with TLS) */
  endpoint: string;
  dataDir: string;
  /** True while the process runs. */
  running(): boolean;
  /** Open client watch streams on this member (its metrics), e.g. to see which member a Mesher watches through. */
  watchStreams(): Promise<number>;
  /** Stops the process (SIGKILL: an outage, not a goodbye) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data dir, and waits until it answers. */
  restart(): Promise<void>;
  /** Stops it and removes its data dir. */
  dispose(): Promise<void>;
  output(): string;
}

/** Serve clients over TLS (PEM files; the certificate must name 127.0.0.1), optionally demanding client certificates. */
export interface EtcdTls {
  cert: string;
  key: string;
  /** With it, etcd runs with --client-cert-auth: only clients with a certificate signed by this CA get in. */
  clientCa?: string;
}

export interface EtcdStartOptions {
  timeoutMs?: number;
  tls?: EtcdTls;
  /** More etcd flags, e.g. ['--auth-token-ttl', '1']. */
  args?: string[];
}

export const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd';

export function etcdAvailable(): boolean {
  const dirs = (process.env.PATH ?? '').split(':');
  return ETCD_BIN.includes('/') ? fs.existsSync(ETCD_BIN) : dirs.some((d) => fs.existsSync(`${d}/${ETCD_BIN}`));
}

/** A port that was free a moment ago (etcd needs fixed ports: it cannot report the ones it picked). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** etcd's /health on its plain-HTTP metrics listener: answers the same whether clients need TLS or a password. */
function healthy(metricsUrl: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${metricsUrl}/health`, { timeout: 500 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  metricsPort: number;
}

async function memberSpec(name: string): Promise<MemberSpec> {
  return { name, clientPort: await freePort(), peerPort: await freePort(), metricsPort: await freePort() };
}

const peerUrl = (m: MemberSpec) => `http://127.0.0.1:${m.peerPort}`;

/** One member process: spawned by `launch` (again after `kill`), healthy when its cluster has a leader. */
function member(spec: MemberSpec, initialCluster: string, opts: EtcdStartOptions): EtcdServer & { spawnOnly(): void; waitHealthy(): Promise<void> } {
  const dataDir = tempDir('mesher-etcd-');
  const endpoint = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${spec.clientPort}`;
  const metricsUrl = `http://127.0.0.1:${spec.metricsPort}`;
  const tls = opts.tls;
  const args = [
    '--name', spec.name,
    '--data-dir', dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peerUrl(spec),
    '--initial-advertise-peer-urls', peerUrl(spec),
    '--listen-metrics-urls', metricsUrl,
    '--initial-cluster', initialCluster,
    '--initial-cluster-state', 'new',
    '--logger', 'zap',
    '--log-level', 'error',
    ...(tls ? ['--cert-file', tls.cert, '--key-file', tls.key] : []),
    ...(tls?.clientCa ? ['--trusted-ca-file', tls.clientCa, '--client-cert-auth'] : []),
    ...(opts.args ?? []),
  ];
  let proc: ChildProcess | null = null;
  let out = '';

  const spawnOnly = () => {
    const p = spawn(ETCD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  };
  const waitHealthy = async () => {
    const p = proc!;
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      if (p.exitCode !== null) throw new Error(`etcd ${spec.name} exited with ${p.exitCode}:\n${out}`);
      if (await healthy(metricsUrl)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    p.kill('SIGKILL');
    throw new Error(`etcd ${spec.name} did not become healthy at ${endpoint}:\n${out}`);
  };
  const kill = async () => {
    const p = proc as ChildProcess | null;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  };
  return {
    name: spec.name,
    endpoint,
    dataDir,
    running: () => proc !== null && proc.exitCode === null && proc.signalCode === null,
    async watchStreams() {
      const text = await (await fetch(`${metricsUrl}/metrics`)).text();
      return Number(/^etcd_debugging_mvcc_watch_stream_total (\d+)$/m.exec(text)?.[1] ?? NaN);
    },
    kill,
    async restart() {
      spawnOnly();
      await waitHealthy();
    },
    async dispose() {
      await kill();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    output: () => out,
    spawnOnly,
    waitHealthy,
  };
}

/** A single-member etcd, plain or (with `tls`) over TLS. */
export async function startEtcd(opts: EtcdStartOptions = {}): Promise<EtcdServer> {
  const spec = await memberSpec('default');
  const m = member(spec, `default=${peerUrl(spec)}`, opts);
  try {
    await m.restart();
  } catch (e) {
    await m.dispose();
    throw e;
  }
  return m;
}

export interface EtcdCluster {
  members: EtcdServer[];
  /** Every member's client URL, for --etcd-endpoints. */
  endpoints: string[];
  /** The member the running members agree is the leader (maintenance status), waiting for an election if need be. */
  leader(timeoutMs?: number): Promise<EtcdServer>;
  /** Hands leadership to `target` (etcd's move-leader) and waits until the members agree. */
  makeLeader(target: EtcdServer, timeoutMs?: number): Promise<void>;
  /** Stops every member and removes their data dirs. */
  dispose(): Promise<void>;
}

/** An etcd client for test set-up and checks (the etcd3 library Mesher uses too); `tls` names PEM files. */
export function etcdClient(
  endpoints: string | string[],
  opts: { auth?: { username: string; password: string }; tls?: { ca: string; cert?: string; key?: string } } = {},
): Etcd3 {
  const { Etcd3: Client } = require('etcd3') as typeof import('etcd3');
  const read = (f?: string) => (f ? fs.readFileSync(f) : undefined);
  const tls = opts.tls;
  return new Client({
    hosts: endpoints,
    auth: opts.auth,
    credentials: tls ? { rootCertificate: read(tls.ca)!, certChain: read(tls.cert), privateKey: read(tls.key) } : undefined,
    defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + 3000 }),
  });
}

/** A plain `size`-member cluster on loopback, every member started at once (none is healthy before a quorum is). */
export async function startEtcdCluster(size = 3, opts: { timeoutMs?: number } = {}): Promise<EtcdCluster> {
  const specs: MemberSpec[] = [];
  for (let i = 0; i < size; i++) specs.push(await memberSpec(`m${i}`));
  const initial = specs.map((s) => `${s.name}=${peerUrl(s)}`).join(',');
  const members = specs.map((s) => member(s, initial, opts));
  const dispose = async () => {
    await Promise.all(members.map((m) => m.dispose()));
  };
  try {
    for (const m of members) m.spawnOnly();
    await Promise.all(members.map((m) => m.waitHealthy()));
  } catch (e) {
    await dispose();
    throw e;
  }
  const status = async (m: EtcdServer) => {
    const c = etcdClient(m.endpoint);
    try {
      return await c.maintenance.status();
    } finally {
      c.close();
    }
  };
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    async makeLeader(target, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      const targetID = (await status(target)).header.member_id;
      while ((await cluster.leader(Math.max(1, deadline - Date.now()))) !== target) {
        if (Date.now() > deadline) throw new Error(`${target.name} did not become leader within ${timeoutMs} ms`);
        const lead = await cluster.leader(Math.max(1, deadline - Date.now()));
        const c = etcdClient(lead.endpoint);
        try {
          await c.maintenance.moveLeader({ targetID });
        } catch {
          // the leader changed meanwhile: ask again
        } finally {
          c.close();
        }
      }
    },
    async leader(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        // Each running member says who it follows; the leader is the one that names itself, if another agrees.
        const views = await Promise.all(
          members
            .filter((m) => m.running())
            .map(async (m) => {
              try {
                const st = await status(m);
                return { m, self: st.header.member_id, leader: st.leader };
              } catch {
                return null;
              }
            }),
        );
        const seen = views.filter((v) => v !== null);
        const lead = seen.find((v) => v.leader !== '0' && v.self === v.leader);
        if (lead && seen.filter((v) => v.leader === lead.self).length >= Math.min(2, seen.length)) return lead.m;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no etcd leader within ${timeoutMs} ms:\n${members.map((m) => m.output()).join('\n')}`);
    },
    dispose,
  };
  return cluster;
}

/**
 * Turns authentication on: a `root` user (etcd requires one) and `user`, who may read and
 * write keys under `prefix` only. Afterwards every client needs a user name and password.
 */
export async function enableAuth(
  endpoint: string,
  rootPassword: string,
  user: { name: string; password: string; prefix: string },
  tls?: { ca: string; cert?: string; key?: string },
): Promise<void> {
  const c = etcdClient(endpoint, { tls });
  try {
    await c.role('root').create();
    await c.user('root').create(rootPassword);
    await c.user('root').addRole('root');
    const role = await c.role(user.name).create();
    await role.grant({ permission: 'Readwrite', range: c.range({ prefix: user.prefix }) });
    await c.user(user.name).create(user.password);
    await c.user(user.name).addRole(user.name);
    await c.auth.authEnable();
  } finally {
    c.close();
  }
}
