'use strict';
// Where the benchmark's processes run. With pinning on (the default when `taskset` exists and there
// are at least 2 CPUs), every proxy under test (bare http-proxy, proxy-core, Mesher, nginx) runs on
// the last CPU, and the runner, the load generator and the upstream (which inherit the runner's
// affinity) on the others. Unpinned, three busy processes share two cores and the scheduler decides
// who waits: a proxy's requests/s then moves with how its wake-ups interleave with wrk's and the
// upstream's, not only with its own cost. Pinned, each proxy has the same core to itself, so
// requests/s at fixed concurrency is that proxy's capacity on one core.
const os = require('node:os');
const { execFileSync } = require('node:child_process');
const { which } = require('./procs');

let plan = null;

/** Pins this process (and so every child that is not a proxy) to all CPUs but the last; returns a description, or null. */
function enablePinning() {
  const n = os.cpus().length;
  const taskset = which('taskset');
  if (n < 2 || !taskset) return null;
  const rest = n === 2 ? '0' : `0-${n - 2}`;
  execFileSync(taskset, ['-pc', rest, String(process.pid)], { stdio: 'ignore' });
  plan = { taskset, proxyCpu: String(n - 1), rest };
  return `proxies under test pinned to CPU ${plan.proxyCpu}; runner, load generator and upstream on CPU ${rest} (taskset)`;
}

/** [command, args] that runs a proxy under test on its CPU (unchanged without pinning). taskset execs it: same pid. */
function proxyCommand(cmd, args) {
  return plan ? [plan.taskset, ['-c', plan.proxyCpu, cmd, ...args]] : [cmd, args];
}

module.exports = { enablePinning, proxyCommand };
