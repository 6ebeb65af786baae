'use strict';
// The Runtime API over HTTP (`AWS_LAMBDA_RUNTIME_API`), one kept-alive connection: the next
// event, responses (whole or streamed), invocation and init errors.

const http = require('http');
const { toPosted } = require('./errors.js');

const PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY = 'Lambda-Runtime-Function-Error-Body';

class RuntimeApi {
  constructor(address) {
    const at = address.lastIndexOf(':');
    this.host = address.slice(0, at);
    this.port = Number(address.slice(at + 1));
    // a free kept-alive socket is unref'd: it never keeps the event loop alive on its own
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  _request(method, path, headers) {
    return http.request({ host: this.host, port: this.port, method, path: PREFIX + path, headers, agent: this.agent });
  }

  // Resolves {status, headers, body} when the answer is read whole.
  _exchange(method, path, body, headers) {
    return new Promise((resolve, reject) => {
      const request = this._request(method, path, headers);
      request.on('response', (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(body);
    });
  }

  // Started ahead of INIT: tell the engine this runtime is booted and waits to be released
  // (Flare's own route). The request also compiles the HTTP client and leaves its connection
  // open for the first /next.
  held() {
    const body = '{}';
    return this._exchange('POST', '/flare/held', body, jsonHeaders(body)).catch(() => {});
  }

  // The next invocation: {body, headers} (header names in lower case).
  async next() {
    const answer = await this._exchange('GET', '/invocation/next');
    if (answer.status !== 200) throw new Error(`Runtime API /next answered ${answer.status}: ${answer.body}`);
    return answer;
  }

  respond(id, result) {
    const body = serialise(result);
    return this._exchange('POST', `/invocation/${encodeURIComponent(id)}/response`, body, jsonHeaders(body));
  }

  fail(id, error) {
    const posted = toPosted(error);
    const body = serialise(posted);
    const headers = { ...jsonHeaders(body), [ERROR_TYPE]: posted.errorType };
    return this._exchange('POST', `/invocation/${encodeURIComponent(id)}/error`, body, headers);
  }

  failInit(error) {
    const posted = toPosted(error);
    const body = serialise(posted);
    return this._exchange('POST', '/init/error', body, { ...jsonHeaders(body), [ERROR_TYPE]: posted.errorType });
  }

  // A streamed response: the http.ClientRequest (chunked, with the error trailers announced)
  // and a promise of the Runtime API's answer.
  stream(id) {
    const request = this._request('POST', `/invocation/${encodeURIComponent(id)}/response`, {
      'Lambda-Runtime-Function-Response-Mode': 'streaming',
      'Transfer-Encoding': 'chunked',
      Trailer: `${ERROR_TYPE}, ${ERROR_BODY}`,
      'Content-Type': 'application/octet-stream',
    });
    const answered = new Promise((resolve, reject) => {
      request.on('response', (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode));
        response.on('error', reject);
      });
      request.on('error', reject);
    });
    return { request, answered };
  }

  // End a streamed response with an error, told in its trailers.
  static failStream(request, error) {
    const posted = toPosted(error);
    request.addTrailers({
      [ERROR_TYPE]: posted.errorType,
      [ERROR_BODY]: Buffer.from(JSON.stringify(posted)).toString('base64'),
    });
    request.end();
  }
}

function serialise(value) {
  try {
    return JSON.stringify(value === undefined ? null : value);
  } catch (_) {
    throw new Error('Unable to stringify response body');
  }
}

function jsonHeaders(body) {
  return { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
}

module.exports = { RuntimeApi };
