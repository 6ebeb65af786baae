'use strict';
// A debugged Node.js environment (FLARE_DEBUG): `node` was started with `--inspect=127.0.0.1:<port>`
// (sandbox/debug_ports.py), and `_FLARE_DEBUG_WAIT` says how many seconds INIT waits for a
// debugger before the handler's module is loaded, so breakpoints in its top-level code are hit.
//
// `inspector.waitForDebugger()` blocks the main thread until a client sends
// `Runtime.runIfWaitingForDebugger`, as an editor does when it attaches; to bound the wait, a
// worker thread connects its own session to the main thread after the wait and sends that
// command itself (first marking, in shared memory, that nobody attached).

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
  const waitS = Number(env._FLARE_DEBUG_WAIT);
  delete env._FLARE_DEBUG_WAIT;
  const address = (inspector.url() || '').replace(/^ws:\/\/([^/]+).*$/, '$1');
  say(`flare: Node.js inspector listening on ${address}; waiting ${waitS} s for a debugger to attach`);
  if (!(waitS > 0)) return;
  const released = new Int32Array(new SharedArrayBuffer(4));
  const releaser = new Worker(RELEASER, { eval: true, workerData: { waitMs: waitS * 1000, released } });
  releaser.unref();
  inspector.waitForDebugger();
  releaser.terminate();
  say(Atomics.load(released, 0) ? 'flare: no debugger attached: going on' : `flare: debugger attached on ${address}`);
}

module.exports = { waitForDebugger };
