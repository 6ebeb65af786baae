'use strict';
// What the runtime does when the event loop becomes empty ('beforeExit'): one listener at a
// time, replaced as an invocation goes on (kept on a global symbol, as Lambda's runtime keeps it).

const LISTENER = Symbol.for('aws.lambda.beforeExit');
const nothing = () => {};

module.exports = {
  invoke: () => global[LISTENER](),
  reset: () => (global[LISTENER] = nothing),
  set: (listener) => (global[LISTENER] = listener),
};
