'use strict';
// Flare's Node.js runtime client: started as `node index.js` in the environment (cwd: the task
// root), it loads `_HANDLER`, then serves invocations from the Runtime API for ever.
//
// INIT (with `_FLARE_HOLD` set, the engine started it ahead of INIT: it first waits on stdin,
// see `release` below): `console` patched (console.js), `awslambda` made global, the handler loaded
// (handler.js); a failure is logged as "Uncaught Exception", posted to /init/error, and the
// process exits 129. INVOKE: GET /next, call the handler with (event, context[, callback]) or,
// for a streaming handler, (event, responseStream, context); its answer is posted when it
// returns a promise that settles, calls back, or (callback-style handlers) when the event loop
// empties. An uncaught exception or unhandled rejection is posted as the invocation's error
// and the process exits (129, 128), as Lambda's runtime does.

const { patchConsole, setRequest } = require('./console.js');
const errors = require('./errors.js');
const exit = require('./exit.js');
const { callbackContext, contextFields } = require('./context.js');
const { loadHandler } = require('./handler.js');
const { RuntimeApi } = require('./runtime_api.js');
const streaming = require('./streaming.js');

const CALLBACK_REMOVED =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. ' +
  'You need to modify this function to use a supported handler signature to use Node.js 24 or later. ' +
  'For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

const env = process.env;
const api = new RuntimeApi(env.AWS_LAMBDA_RUNTIME_API);
let logError = (label, error) => console.error(label, error); // until `configure`

// What an uncaught exception or unhandled rejection does: before the first invocation, an
// init error; during one, that invocation's error. Then the process exits.
let fatal = (error, code) => api.failInit(error).finally(() => process.exit(code));

process.on('uncaughtException', (error) => {
  logError('Uncaught Exception', error);
  fatal(error, 129);
});
process.on('unhandledRejection', (reason, promise) => {
  const error = new errors.UnhandledPromiseRejection(reason, promise);
  logError('Unhandled Promise Rejection', error);
  fatal(error, 128);
});
exit.reset();
process.on('beforeExit', () => exit.invoke());

// What the function's variables decide, once they are all set.
function configure() {
  logError = patchConsole(env);
  if (!['1', 'true'].includes(env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA)) {
    globalThis.awslambda = {
      streamifyResponse: streaming.streamifyResponse,
      HttpResponseStream: streaming.HttpResponseStream,
    };
  }
}

function scheduleNext(handle) {
  setImmediate(() =>
    handle().catch((error) => {
      console.log(`Unexpected Top Level Error: ${error.toString()}`);
      fatal(error, 129);
    }),
  );
}

async function nextInvocation() {
  const { body, headers } = await api.next();
  const id = headers['lambda-runtime-aws-request-id'];
  setRequest(id, headers['lambda-runtime-aws-tenant-id']);
  if (headers['lambda-runtime-trace-id']) env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
  else delete env._X_AMZN_TRACE_ID;
  fatal = (error, code) => api.fail(id, error).finally(() => process.exit(code));
  return { body, headers, id };
}

function serveWhole(handler, isAsync) {
  const handle = async () => {
    const { body, headers, id } = await nextInvocation();
    const next = () => scheduleNext(handle);
    const respond = (result) => {
      let posting;
      try {
        posting = api.respond(id, result);
      } catch (error) {
        logError('Invoke Error', error);
        posting = api.fail(id, error);
      }
      posting.then(next, (error) => fatal(error, 129));
    };
    const fail = (error) => api.fail(id, error).then(next, (lost) => fatal(lost, 129));
    const [callback, context, markAnswered] = callbackContext(respond, fail, logError);
    exit.set(() => {
      markAnswered();
      if (isAsync) {
        const error = new errors.NodeJsExit();
        logError('Invoke Error', error);
        fail(error);
      } else {
        api.respond(id, null).then(next, (error) => fatal(error, 129));
      }
    });
    try {
      Object.assign(context, contextFields(headers, env));
      const result = handler(JSON.parse(body), context, callback);
      if (result && typeof result.then === 'function') result.then(context.succeed, context.fail).catch(context.fail);
    } catch (error) {
      callback(error);
    }
  };
  return handle;
}

function serveStream(handler) {
  const handle = async () => {
    const { body, headers, id } = await nextInvocation();
    let waits = true;
    const next = () => {
      exit.reset();
      if (!waits) scheduleNext(handle);
      else exit.set(() => setImmediate(() => scheduleNext(handle)));
    };
    const { request, answered } = api.stream(id);
    answered.catch(() => {});
    const fail = (error) => {
      logError('Invoke Error', error);
      if (!request.writableEnded) RuntimeApi.failStream(request, error); // else it was answered
      answered.then(next, next);
    };
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waits;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waits = value;
      },
    };
    exit.set(() => scheduleNext(handle));
    try {
      Object.assign(context, contextFields(headers, env));
      const result = handler(JSON.parse(body), streaming.asResponseStream(request), context);
      if (!result || typeof result.then !== 'function') return fail('Streaming does not support non-async handlers.');
      if ((await result) !== undefined) console.warn('Streaming handlers ignore return values.');
      if (!request.writableEnded) return fail('Response stream is not finished.');
      await answered;
      next();
    } catch (error) {
      fail(error);
    }
  };
  return handle;
}

async function start() {
  configure();
  try {
    if (env._FLARE_DEBUG !== undefined) require('./debugger.js').waitForDebugger(env);
    const handler = await loadHandler(env.LAMBDA_TASK_ROOT || process.cwd(), env._HANDLER || '');
    const isStreaming = streaming.isStreaming(handler);
    const major = Number((env.AWS_EXECUTION_ENV || '').match(/nodejs(\d+)/)?.[1]);
    if (major >= 24 && handler.length >= 3 && !isStreaming) {
      throw new errors.CallbackHandlerDeprecated(CALLBACK_REMOVED);
    }
    const isAsync = handler.constructor?.name === 'AsyncFunction';
    scheduleNext(isStreaming ? serveStream(handler) : serveWhole(handler, isAsync));
  } catch (error) {
    logError('Uncaught Exception', error);
    fatal(error, 129);
  }
}

// Released by the engine (everything it writes to stdin, up to its end). A spare started for
// no function yet (sandbox/late_binding.py) is sent its function's variables as a JSON object:
// they replace the few it started with, and its code is now mounted at the task root, which
// it moves into (the directory it started in is the empty one beneath).
function release(message) {
  if (message[0] !== 0x7b) return; // '{'
  const variables = JSON.parse(message.toString());
  for (const name of Object.keys(env)) if (!(name in variables)) delete env[name];
  Object.assign(env, variables);
  process.chdir(env.LAMBDA_TASK_ROOT);
}

// Started ahead of its INIT (a spare, `_FLARE_HOLD` set): say so, then wait until the engine
// releases it.
if (env._FLARE_HOLD) {
  delete env._FLARE_HOLD;
  api.held().finally(() => {
    release(require('fs').readFileSync(0));
    start();
  });
} else {
  start();
}
