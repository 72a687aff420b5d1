import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tempDir } from './mesher-process';

/** A real single-member etcd (Debian's etcd-server) on free loopback ports with its own data dir. */
export interface EtcdServer {
  /** Client URL, e.g. http://127.0.0.1:41234 */
  endpoint: string;
  dataDir: string;
  /** Stops the process (SIGKILL: an outage, not a goodbye) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data dir, and waits until it answers. */
  restart(): Promise<void>;
  /** Stops it and removes its data dir. */
  dispose(): Promise<void>;
  output(): string;
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

function healthy(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${endpoint}/health`, { timeout: 500 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export async function startEtcd(opts: { timeoutMs?: number } = {}): Promise<EtcdServer> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const dataDir = tempDir('mesher-etcd-');
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'default',
    '--data-dir', dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `default=${peer}`,
    '--initial-cluster-state', 'new',
    '--logger', 'zap',
    '--log-level', 'error',
  ];
  let proc: ChildProcess | null = null;
  let out = '';

  const launch = async () => {
    const p = spawn(ETCD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      if (p.exitCode !== null) throw new Error(`etcd exited with ${p.exitCode}:\n${out}`);
      if (await healthy(endpoint)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    p.kill('SIGKILL');
    throw new Error(`etcd did not become healthy at ${endpoint}:\n${out}`);
  };

  const kill = async () => {
    const p = proc as ChildProcess | null;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  };

  await launch();
  return {
    endpoint,
    dataDir,
    kill,
    restart: launch,
    async dispose() {
      await kill();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    output: () => out,
  };
}
