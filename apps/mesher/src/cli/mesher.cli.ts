import { ConfigError, helpText, loadConfig } from '../config/load-config';
import { AdminCallError } from './admin-client';
import { CTL_COMMANDS, runCtl } from './ctl.commands';
import { startMesher } from '../mesher.app';
import { MESHER_VERSION } from '../version';

const fmt = (a: { address: string; port: number } | null) => (a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : 'off');

/** `mesher start [options]`, `mesher --help`, `mesher --version`. Returns the exit code for errors. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help' || rest.includes('--help')) {
    process.stdout.write(helpText() + '\n');
    return cmd ? 0 : 1;
  }
  if (cmd === '--version' || cmd === 'version') {
    process.stdout.write(`mesher ${MESHER_VERSION}\n`);
    return 0;
  }
  if (CTL_COMMANDS.includes(cmd)) {
    try {
      return await runCtl(cmd, rest, env, (s) => process.stdout.write(s + '\n'));
    } catch (e) {
      if (!(e instanceof AdminCallError)) throw e;
      process.stderr.write(`mesher ${cmd}: ${e.message}\n`);
      return e.status === 2 ? 2 : 1;
    }
  }
  if (cmd !== 'start') {
    process.stderr.write(`mesher: unknown command '${cmd}' (try: mesher start, apply, export, get, rollback, --help)\n`);
    return 2;
  }
  let cfg;
  try {
    cfg = loadConfig(rest, env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`mesher: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  let running;
  try {
    running = await startMesher(cfg);
  } catch (e) {
    // Listeners or the store may already be open: exit explicitly rather than linger half-started.
    process.stderr.write(`mesher: cannot start: ${(e as Error).message}\n`, () => process.exit(1));
    return null;
  }
  // One line with every chosen port, so scripts (and port 0 users) can find them.
  process.stdout.write(
    JSON.stringify({
      level: 'info',
      msg: 'mesher started',
      version: MESHER_VERSION,
      proxy: fmt(running.proxy),
      admin: fmt(running.admin),
      inbound: fmt(running.inbound),
      edge: fmt(running.edge),
      dashboard: `${cfg.adminTlsCert ? 'https' : 'http'}://${fmt(running.admin)}/`,
      dataDir: cfg.dataDir,
      service: cfg.serviceName,
    }) + '\n',
  );
  let signalled = false;
  const shutdown = (sig: string) => {
    if (signalled) return;
    signalled = true;
    process.stdout.write(JSON.stringify({ level: 'info', msg: 'mesher stopping', signal: sig }) + '\n');
    running
      .stop()
      .then(() => process.exit(0))
      .catch((e: Error) => {
        process.stderr.write(`mesher: shutdown failed: ${e.message}\n`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return null;
}
