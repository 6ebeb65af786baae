'use strict';
// `console` as Lambda's Node.js runtime patches it: every line is
// `<ISO time>\t<request id>\t<LEVEL>\t<message>` (Text) or one JSON object (LogFormat JSON:
// timestamp, level, requestId, message, and an error's fields), newlines inside a message
// become `\r` so that one call stays one log event, and AWS_LAMBDA_LOG_LEVEL silences the
// levels below it. `console.log` is INFO; `console.fatal` is added.

const util = require('util');
const { intoError, toLogged } = require('./errors.js');

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');

function errorFields(error) {
  return Object.assign(
    {
      errorType: error?.constructor?.name ?? 'UnknownError',
      errorMessage: error.message,
      stackTrace: typeof error.stack === 'string' ? error.stack.split('\n') : error.stack,
    },
    error,
  );
}

function jsonLine(level, params) {
  const record = { timestamp: new Date().toISOString(), level, requestId: global[REQUEST_ID] };
  const tenant = global[TENANT_ID];
  if (tenant !== undefined && tenant !== null) record.tenantId = tenant;
  if (params.length === 1) {
    record.message = params[0];
    try {
      return JSON.stringify(record, (_key, value) => (value instanceof Error ? errorFields(value) : value));
    } catch (_) {
      record.message = util.format(record.message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(...params);
  const error = params.find((param) => param instanceof Error);
  if (error !== undefined) {
    record.errorType = error?.constructor?.name ?? 'UnknownError';
    record.errorMessage = error.message;
    record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
  }
  return JSON.stringify(record);
}

function textLine(level, params) {
  const message = util.format(...(params.length ? params : [undefined]));
  return `${new Date().toISOString()}\t${global[REQUEST_ID]}\t${level}\t${message}`;
}

// Patch `console` from the environment; returns how the runtime logs an error with a label
// ("Invoke Error", "Uncaught Exception"…): Text `label \t{json}`, JSON the error object.
function patchConsole(env) {
  const json = (env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const format = json ? jsonLine : textLine;
  const threshold = Math.max(0, LEVELS.indexOf((env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()));
  const writer = (level) => (...params) => {
    process.stdout.write(format(level, params).replace(/\n/g, '\r') + '\n');
  };
  const silent = () => {};
  for (const [method, level] of [
    ['trace', 'TRACE'],
    ['debug', 'DEBUG'],
    ['info', 'INFO'],
    ['warn', 'WARN'],
    ['error', 'ERROR'],
  ]) {
    console[method] = LEVELS.indexOf(level) >= threshold ? writer(level) : silent;
  }
  console.log = console.info;
  console.fatal = writer('FATAL');
  return json
    ? (_label, error) => console.error(intoError(error))
    : (label, error) => console.error(label, toLogged(intoError(error)));
}

function setRequest(requestId, tenantId) {
  global[REQUEST_ID] = requestId;
  global[TENANT_ID] = tenantId;
}

module.exports = { patchConsole, setRequest };
