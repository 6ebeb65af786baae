'use strict';
// A debugged Node.js environment (FLARE_DEBUG): `_FLARE_DEBUG` (removed before the handler
// loads) holds `{host, port, wait_s}` (sandbox/debug_ports.py). Before the handler's module is
// loaded, so that breakpoints in its top-level code are hit, Node's inspector is opened on
// host:port and INIT waits up to wait_s seconds for a debugger.
//
// `inspector.waitForDebugger()` blocks the main thread until a client sends
// `Runtime.runIfWaitingForDebugger`, as an editor does when it attaches. The inspector is opened
// right before it (not with `--inspect` at start-up, where an editor attaching early would send
// that command before anyone waits, and so wait the whole time). To bound the wait, a worker
// thread connects its own session to the main thread after wait_s and sends the command itself
// (first marking, in shared memory, that nobody attached).

const inspector = require('inspector');
const { Worker } = require('worker_threads');

const RELEASER = `
  const { workerData } = require('worker_threads');
  const inspector = require('inspector');
  setTimeout(() => {
    Atomics.store(workerData.released, 0, 1);
    const session = new inspector.Session();
    session.connectToMainThread();
    session.post('Runtime.runIfWaitingForDebugger', () => {});
  }, workerData.waitMs);
`;

function say(line) {
  process.stdout.write(line + '\n');
}

function waitForDebugger(env) {
  const { host, port, wait_s: waitS } = JSON.parse(env._FLARE_DEBUG);
  delete env._FLARE_DEBUG;
  const address = `${host}:${port}`;
  let releaser = null;
  const released = new Int32Array(new SharedArrayBuffer(4));
  if (waitS > 0) {
    releaser = new Worker(RELEASER, { eval: true, workerData: { waitMs: waitS * 1000, released } });
    releaser.unref();
  }
  inspector.open(port, host, false);
  say(`flare: Node.js inspector listening on ${address}; waiting ${waitS} s for a debugger to attach`);
  if (releaser === null) return;
  inspector.waitForDebugger();
  releaser.terminate();
  say(Atomics.load(released, 0) ? 'flare: no debugger attached: going on' : `flare: debugger attached on ${address}`);
}

module.exports = { waitForDebugger };
