// First, before the heavy modules load: keeps start-up from growing the young generation (idle RSS).
import { releaseYoungGeneration } from './boot-heap';
// Also first: a TickObject kept alive before start-up's GCs can cost nextTick its fast path.
import './tick-shape';
import 'reflect-metadata';
import { runCli } from './cli/mesher.cli';

// Bootstrap only: everything else lives in the CLI and the app module.
runCli(process.argv.slice(2), process.env).then(
  (code) => {
    // `start` resolves once every listener is open; other commands when they are done.
    releaseYoungGeneration();
    if (code !== null) process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`mesher: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
