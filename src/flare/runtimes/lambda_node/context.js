'use strict';
// The context object a handler gets, from the environment and the `Lambda-Runtime-*` headers of
// its `/next`, and the callback machinery of callback-style handlers: `callback(error, result)`
// answers once the event loop is empty (or at once when `callbackWaitsForEmptyEventLoop` is
// false), `context.succeed/fail/done` answer at once; only the first answer counts.

const exit = require('./exit.js');

function parseHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`Cannot parse ${name} as json: ${error.toString()}`);
  }
}

// The context's fields for one invocation (`headers`: lower-case names).
function contextFields(headers, env) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

// `respond(result)` / `fail(error)` post the answer (each returns a promise), `logError`
// logs an error answer. Returns [callback, context-with-callback-fields, markAnswered].
function callbackContext(respond, fail, logError) {
  let answered = false;
  let waits = true;
  const complete = (result) => {
    if (answered) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    answered = true;
    respond(result);
  };
  const reportError = (error) => {
    logError('Invoke Error', error);
    fail(error);
  };
  const done = (error, result) => {
    exit.reset();
    if (error !== undefined && error !== null) reportError(error);
    else complete(result);
  };
  const callback = (error, result) => {
    exit.reset();
    if (error !== undefined && error !== null) reportError(error);
    else if (!waits) complete(result);
    else exit.set(() => setImmediate(() => complete(result)));
  };
  let first = true;
  const once = (fn) => (...args) => {
    if (first) {
      fn(...args);
      first = false;
    }
  };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waits;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waits = value;
    },
    succeed: once((result) => done(null, result)),
    fail: once((error) => done(error === undefined || error === null ? 'handled' : error, null)),
    done: once(done),
  };
  return [once(callback), context, () => (answered = true)];
}

module.exports = { contextFields, callbackContext };
