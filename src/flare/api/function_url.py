"""Requests to function URLs: any request whose ``Host`` is ``<url-id>.lambda-url.<region>.…``.

``app.py`` hands them here before any Lambda API route sees them (a middleware), and the front
door's fast path leaves them to aiohttp. A request

1. to a URL id Flare does not have (any more): 403 ``{"Message":null}``, ``AccessDeniedException``;
2. that is a CORS preflight, when the URL has ``Cors``: answered here (``cors``);
3. to an ``AWS_IAM`` URL without a SigV4 signature (an ``Authorization: AWS4-HMAC-SHA256 …``
   header, or a presigned query): 403 ``{"Message":"Forbidden"}``. A signed request is accepted
   WITHOUT verifying its signature: SigV4 verification comes with the trust work (``auth/``);
   until then the signature only names the caller (``requestContext.authorizer.iam``). The
   resource-based policy Lambda also requires (``lambda:InvokeFunctionUrl``) is not checked
   either;
4. otherwise invokes the URL's function (or alias) through the router with the format 2.0 event
   (``url_event``). A throttle answers 429, a request over 6 MB 413, a function error (or an
   answer that makes no HTTP response) 502 ``Internal Server Error``, as Lambda does. A
   ``BUFFERED`` URL answers with ``url_response.http_answer``; a ``RESPONSE_STREAM`` URL relays
   the stream as it comes (chunked), its first bytes sent before the function returns.

Every answer carries ``x-amzn-RequestId`` (the invocation's, when there was one), and the CORS
headers when the URL has ``Cors`` and the request's ``Origin`` is allowed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

from flare.account_region import AccountRegion
from flare.api import cors
from flare.api.invoke import MAX_SYNC_PAYLOAD
from flare.api.response_stream import ChunkQueue, streamed_invoke
from flare.api.url_event import Caller, Invoked, UrlRequest, request_event
from flare.api.url_response import BadFunctionResponse, HttpAnswer, http_answer, split_prelude
from flare.api.wire import REQUEST_ID_HEADER
from flare.clock import Clock
from flare.control.urls import UrlTarget
from flare.errors import FlareError, TooManyRequests
from flare.ids import new_request_id, new_trace_id
from flare.sandbox.invocation import Invocation
from flare.sandbox.streaming import DEFAULT_CONTENT_TYPE, HTTP_INTEGRATION
from flare.scope import account_of

log = logging.getLogger("flare.api")

URL_HOST_MARK = ".lambda-url."
OWNER: web.RequestKey[AccountRegion] = web.RequestKey("flare.url_owner")  # whose URL it is for
INTERNAL_ERROR = HttpAnswer(502, [("Content-Type", "application/json")], b"Internal Server Error")


def url_id_of(host: str) -> str | None:
    """The URL id a ``Host`` names (its first label), or None when it names no function URL."""
    host = host.lower()
    if URL_HOST_MARK not in host:
        return None
    return host.split(".", 1)[0]


def signed_caller(
    headers: Mapping[str, str], query: Mapping[str, str], default_account: str
) -> Caller | None:
    """Who a SigV4-signed request says it is (its credential's access key and that key's
    account, ``scope.account_of``), or None when it is not signed. The signature is NOT verified
    (see the module docstring)."""
    authorization = headers.get("Authorization", "")
    if authorization.startswith("AWS4-HMAC-SHA256 "):
        credential = authorization.partition("Credential=")[2]
    elif "X-Amz-Signature" in query:
        credential = query.get("X-Amz-Credential", "")
    else:
        return None
    key = credential.split("/", 1)[0].strip(" ,")
    return Caller(key, account_of(key, default_account))


def lower_headers(request: web.Request) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


def refusal(status: int, error_type: str, message: str | None, request_id: str | None = None) -> web.Response:
    """Lambda's own answer for a URL request it will not pass to the function."""
    headers = {"x-amzn-ErrorType": error_type, REQUEST_ID_HEADER: request_id or new_request_id()}
    body = json.dumps({"Message": message}, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, headers=headers, content_type="application/json")


def answer_response(answer: HttpAnswer, request_id: str, added: Mapping[str, str]) -> web.Response:
    headers = CIMultiDict(cors.merged(answer.headers, added))
    headers[REQUEST_ID_HEADER] = request_id
    return web.Response(status=answer.status, body=answer.body, headers=headers)


class FunctionUrlDoor:
    """The aiohttp handler of every function URL request (see the module docstring)."""

    def __init__(
        self, owner_of: Callable[[str], AccountRegion | None], clock: Clock, default_account: str, port: int
    ) -> None:
        self._owner_of = owner_of
        self._clock = clock
        self._default_account = default_account
        self._port = port

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        url_id = url_id_of(request.host)
        owner = self._owner_of(url_id) if url_id else None
        target = owner.function_urls.resolve(url_id) if owner is not None and url_id else None
        if owner is None or target is None:
            return refusal(403, "AccessDeniedException", None)
        request[OWNER] = owner
        config = target.config
        rules = config.cors if cors.enabled(config.cors) else None
        origin = request.headers.get("Origin")
        if rules is not None and cors.is_preflight(request.method, lower_headers(request)):
            headers = {REQUEST_ID_HEADER: new_request_id(), **cors.preflight_headers(rules, origin)}
            return web.Response(status=200, headers=headers)
        caller = None
        if config.auth_type == "AWS_IAM":
            caller = signed_caller(request.headers, request.query, self._default_account)
            if caller is None:
                return refusal(403, "AccessDeniedException", "Forbidden")
        if (request.content_length or 0) > MAX_SYNC_PAYLOAD:
            return self._too_large()
        invocation = await self._invocation(request, target, caller)
        if len(invocation.payload) > MAX_SYNC_PAYLOAD:
            return self._too_large()
        added = cors.response_headers(rules, origin) if rules is not None else {}
        try:
            if config.invoke_mode == "RESPONSE_STREAM":
                return await self._streamed(request, target, invocation, added)
            return await self._buffered(request, target, invocation, added)
        except TooManyRequests as error:
            return refusal(429, error.aws_name, error.message, invocation.request_id)
        except FlareError as error:
            status = error.status if error.status < 500 else 502
            return refusal(status, error.aws_name, error.message, invocation.request_id)

    async def _invocation(self, request: web.Request, target: UrlTarget, caller: Caller | None) -> Invocation:
        now = self._clock.wall()
        request_id = new_request_id()
        trace_id = new_trace_id(now)
        http = UrlRequest(
            method=request.method,
            target=request.raw_path,
            headers=list(request.headers.items()),
            body=await request.read(),
            source_ip=request.remote or "",
            port=self._port,
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        )
        owner: AccountRegion = request[OWNER]
        invoked = Invoked(target.config.url_id, owner.scope.account, request_id, trace_id, now, caller)
        payload = json.dumps(request_event(http, invoked), separators=(",", ":")).encode()
        return Invocation(request_id, payload, target.invoked_arn, trace_id, source="url")

    def _too_large(self) -> web.Response:
        message = f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
        return refusal(413, "RequestTooLargeException", message)

    async def _buffered(
        self, request: web.Request, target: UrlTarget, invocation: Invocation, added: Mapping[str, str]
    ) -> web.StreamResponse:
        router = request[OWNER].router
        async with router.invoke(target.version, invocation) as result:
            answer = INTERNAL_ERROR
            if not result.function_error:
                with contextlib.suppress(BadFunctionResponse):
                    answer = http_answer(result.payload)
            response = answer_response(answer, invocation.request_id, added)
            await response.prepare(request)
            await response.write_eof()
        return response

    async def _streamed(
        self, request: web.Request, target: UrlTarget, invocation: Invocation, added: Mapping[str, str]
    ) -> web.StreamResponse:
        queue = ChunkQueue()
        relayed = StreamedResponse(request, invocation.request_id, added, queue)
        streamed = dataclasses.replace(invocation, sink=queue)
        try:
            async with streamed_invoke(
                request[OWNER].router, target.version, streamed, queue, relayed.send
            ) as result:
                return await relayed.finish(result.payload, result.error_type is not None)
        except BadFunctionResponse:
            return answer_response(INTERNAL_ERROR, invocation.request_id, added)
        except OSError:
            if relayed.response is None:
                raise
            return relayed.response  # the client went away mid-stream


class StreamedResponse:
    """A RESPONSE_STREAM URL's response, made from the stream's first bytes (its HTTP head,
    when the stream starts with one; else 200 with the stream's content type)."""

    def __init__(
        self, request: web.Request, request_id: str, added: Mapping[str, str], queue: ChunkQueue
    ) -> None:
        self._request = request
        self._request_id = request_id
        self._added = added
        self._queue = queue
        self._head = bytearray()
        self.response: web.StreamResponse | None = None

    async def send(self, data: bytes) -> None:
        """One piece of the stream. Raises BadFunctionResponse for a head that is not one."""
        if self.response is None:
            if self._queue.content_type == HTTP_INTEGRATION:
                self._head += data
                split = split_prelude(bytes(self._head))
                if split is None:
                    return
                head, data = split
            else:
                head = HttpAnswer(
                    200, [("Content-Type", self._queue.content_type or "application/octet-stream")]
                )
            await self._start(head)
        if data:
            assert self.response is not None
            await self.response.write(data)

    async def finish(self, payload: bytes, failed: bool) -> web.StreamResponse:
        """End the response once the invocation has. Before any byte was sent: a function that
        did not stream answers with its payload as it is, one that failed (or whose stream's
        head was cut short) with a 502, an empty stream with an empty 200."""
        if self.response is None:
            if failed or self._head:
                raise BadFunctionResponse("the function failed before its response began")
            if not self._queue.began:
                answer = HttpAnswer(200, [("Content-Type", "application/json")], payload)
                response = answer_response(answer, self._request_id, self._added)
                await response.prepare(self._request)
                await response.write_eof()
                return response
            await self._start(
                HttpAnswer(200, [("Content-Type", self._queue.content_type or DEFAULT_CONTENT_TYPE)])
            )
            assert self.response is not None
        await self.response.write_eof()
        return self.response

    def _plain_head(self) -> HttpAnswer:
        return HttpAnswer(200, [("Content-Type", self._queue.content_type or DEFAULT_CONTENT_TYPE)])

    async def _start(self, head: HttpAnswer) -> None:
        response = web.StreamResponse(status=head.status)
        for name, value in cors.merged(head.headers, self._added):
            response.headers.add(name, value)
        response.headers[REQUEST_ID_HEADER] = self._request_id
        response.enable_chunked_encoding()
        await response.prepare(self._request)
        self.response = response


def host_routing(door: FunctionUrlDoor) -> Middleware:
    """The middleware that sends function URL requests (by ``Host``) to ``door``, before any
    route of the Lambda API; it must be the application's first."""

    @web.middleware
    async def route_by_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        if URL_HOST_MARK not in request.host.lower():
            return await handler(request)
        try:
            return await door(request)
        except Exception:
            log.exception("unhandled error in function URL request %s %s", request.method, request.path)
            return refusal(500, "ServiceException", "An internal error occurred.")

    return route_by_host
