'use strict';
// The errors Flare's Node.js runtime reports, named as Lambda's Node.js runtime names them
// (`Runtime.ImportModuleError`…), and the two shapes an error takes: the body posted to the
// Runtime API ({errorType, errorMessage, trace}) and the one logged ({errorType, errorMessage,
// the error's own enumerable fields, stack}).

const util = require('util');

function runtimeError(name) {
  const type = class extends Error {};
  Object.defineProperty(type, 'name', { value: name });
  type.prototype.name = `Runtime.${name}`;
  return type;
}

const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const MalformedStreamingHandler = runtimeError('MalformedStreamingHandler');
const InvalidStreamingOperation = runtimeError('InvalidStreamingOperation');
const CallbackHandlerDeprecated = runtimeError('CallbackHandlerDeprecated');

class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly ' +
        'caused by a Promise that was never settled. For more information, see ' +
        'https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
NodeJsExit.prototype.name = 'Runtime.NodeJsExit';

class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function looksLikeError(value) {
  return Boolean(
    value &&
      typeof value.name === 'string' &&
      typeof value.message === 'string' &&
      typeof value.stack === 'string' &&
      value.name &&
      value.message &&
      value.stack,
  );
}

// What is posted to /error: an Error gives its name, message and stack lines; anything else
// its typeof and its string.
function toPosted(error) {
  try {
    if (util.types.isNativeError(error) || looksLikeError(error)) {
      const clean = (text) => String(text).replaceAll('\x7F', '%7F');
      return {
        errorType: clean(error.name),
        errorMessage: clean(error.message),
        trace: clean(error.stack).split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or ' +
        'more of its message, name, and stack',
    };
  }
}

function withFields(value) {
  if (!(value instanceof Error)) return value;
  const fields = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === 'string') fields.stack = value.stack.split('\n');
  return fields;
}

// How an error follows its label in a text log line: a tab, then JSON.
function toLogged(error) {
  try {
    return '\t' + JSON.stringify(error, (_key, value) => withFields(value));
  } catch (_) {
    return '\t' + JSON.stringify(toPosted(error));
  }
}

function intoError(value) {
  return value instanceof Error ? value : new Error(value);
}

module.exports = {
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  MalformedStreamingHandler,
  InvalidStreamingOperation,
  CallbackHandlerDeprecated,
  NodeJsExit,
  UnhandledPromiseRejection,
  toPosted,
  toLogged,
  intoError,
};
