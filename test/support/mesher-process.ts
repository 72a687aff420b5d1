import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const MESHER_BIN = path.join(REPO_ROOT, 'bin', 'mesher.js');

export interface MesherProcess {
  proc: ChildProcess;
  proxy: string;
  admin: string;
  inbound: string | null;
  /** The edge listener, in --mode edge. */
  edge: string | null;
  dataDir: string;
  output(): string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function tempDir(prefix = 'mesher-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts `mesher start` as a real child process on free ports and waits for its start-up line. */
export function startMesher(
  args: string[] = [],
  opts: { dataDir?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; uid?: number; gid?: number } = {},
): Promise<MesherProcess> {
  const dataDir = opts.dataDir ?? tempDir();
  const proc = spawn(
    process.execPath,
    [MESHER_BIN, 'start', '--proxy-port', '0', '--admin-port', '0', '--data-dir', dataDir, '--log-level', 'warn', ...args],
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`mesher did not start in time:\n${out}`));
    }, opts.timeoutMs ?? 20_000);
    const onData = () => {
      const line = out.split('\n').find((l) => l.includes('"mesher started"'));
      if (!line) return;
      clearTimeout(timer);
      proc.stdout!.off('data', onData);
      const info = JSON.parse(line) as { proxy: string; admin: string; inbound: string; edge?: string };
      resolve({
        proc,
        proxy: info.proxy,
        admin: info.admin,
        inbound: info.inbound === 'off' ? null : info.inbound,
        edge: !info.edge || info.edge === 'off' ? null : info.edge,
        dataDir,
        output: () => out,
        async stop(signal = 'SIGTERM') {
          if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
          proc.kill(signal);
          return exited;
        },
      });
    };
    proc.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mesher exited with ${code} before starting:\n${out}`));
    });
  });
}

/** Runs `mesher <args>` to completion (for start-up errors and --help). */
export function runMesher(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MESHER_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`mesher ${args.join(' ')} did not exit:\n${stdout}${stderr}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
