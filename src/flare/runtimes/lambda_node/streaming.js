'use strict';
// Response streaming: `awslambda.streamifyResponse(handler)` marks a handler that takes
// (event, responseStream, context); the response stream is the Runtime API request itself
// (chunked, its error told in trailers). `awslambda.HttpResponseStream.from(stream, prelude)`
// makes a function URL's response: the prelude (status, headers, cookies) as JSON and eight
// NUL bytes before the body.

const { InvalidStreamingOperation } = require('./errors.js');

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

function streamifyResponse(handler, options) {
  handler[STREAMING] = 'response';
  if (typeof options?.highWaterMark === 'number') handler[HIGH_WATER_MARK] = parseInt(options.highWaterMark);
  return handler;
}

class HttpResponseStream {
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION);
    const metadata = JSON.stringify(prelude);
    stream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(8));
    };
    return stream;
  }
}

// Whether `handler` streams (throws for a streaming mode other than 'response').
function isStreaming(handler) {
  const mode = handler[STREAMING];
  if (mode === undefined || mode === null || mode === false) return false;
  if (mode === 'response') return true;
  const { MalformedStreamingHandler } = require('./errors.js');
  throw new MalformedStreamingHandler('Only response streaming is supported.');
}

// Give the Runtime API request the response stream's manners: setContentType until the first
// write, objects written as JSON, the HTTP prelude before the first write.
function asResponseStream(request) {
  let started = false;
  const write = request.write.bind(request);
  const end = request.end.bind(request);
  request.setContentType = (contentType) => {
    if (started) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    request.setHeader('Content-Type', contentType);
  };
  request.write = (chunk, encoding, callback) => {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && chunk?.constructor !== Uint8Array) {
      chunk = JSON.stringify(chunk);
    }
    if (!started && typeof request._onBeforeFirstWrite === 'function') request._onBeforeFirstWrite(write);
    started = true;
    return write(chunk, encoding, callback);
  };
  request.end = (chunk, encoding, callback) => {
    if (typeof chunk === 'function') return end(chunk);
    if (chunk !== undefined && chunk !== null) request.write(chunk, typeof encoding === 'string' ? encoding : undefined);
    return end(typeof encoding === 'function' ? encoding : callback);
  };
  return request;
}

module.exports = { streamifyResponse, HttpResponseStream, isStreaming, asResponseStream };
