"""The Lambda Runtime API (``/2018-06-01/runtime/...``), one listener per environment.

Any runtime client speaks it: a ``bootstrap`` using curl, ``awslambdaric``, extensions. Each
route translates HTTP into a call on the environment (``RuntimeSide``), which owns the lifecycle
state machine and answers with ``RuntimeApiError`` when the call is out of turn:
400 ``InvalidRequestID`` for a request id that is not the one in flight, 403
``InvalidStateTransition`` for a call the state does not allow (e.g. posting twice), 413 for a
response over 6 MB.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import socket
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import ClientError, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import BaseRequest

from flare.sandbox.socket_owner import OWNERS
from flare.sandbox.streaming import DEFAULT_CONTENT_TYPE, MAX_RESPONSE_BYTES
from flare.sandbox.trailers import Framing, TrailerKeeper

PREFIX = "/2018-06-01/runtime/"
RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
ERROR_TYPE_TRAILER = "lambda-runtime-function-error-type"
ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"


class RuntimeApiError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class NextEvent:
    """What ``GET /next`` answers: the payload and its ``Lambda-Runtime-*`` headers."""

    payload: bytes
    headers: dict[str, str]


class ResponseWriter(Protocol):
    """A streamed response being posted: ``write`` each piece (False: stop, the invocation is
    over) and wait until it is ``writable`` again, then ``end`` it, with the error the runtime
    reported in its trailers if any."""

    def write(self, data: bytes) -> bool: ...

    async def writable(self) -> None: ...

    def end(self, error_type: str | None, error_body: bytes) -> None: ...


class RuntimeSide(Protocol):
    async def next_event(self) -> NextEvent: ...

    def post_response(self, request_id: str, body: bytes) -> None: ...

    def begin_stream(self, request_id: str, content_type: str) -> ResponseWriter:
        """``POST /response`` in ``Lambda-Runtime-Function-Response-Mode: streaming``."""

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None: ...

    def post_init_error(self, body: bytes, error_type: str | None) -> None: ...

    def restore_next(self) -> None:
        """``GET /restore/next``: returns when the call is answered 200 (SnapStart)."""

    def post_restore_error(self, body: bytes, error_type: str | None) -> None: ...

    def runtime_held(self) -> None:
        """``POST /flare/held``: Flare's runtime client, started ahead of its INIT, has booted
        and waits to be released (a Flare extension of the Runtime API; its answer is 204)."""


def _error(status: int, error_type: str, message: str) -> web.Response:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return web.Response(status=status, body=body, content_type="application/json")


_ACCEPTED = json.dumps({"status": "OK"}).encode()


def _accepted(whole: bool) -> web.Response:
    """202 for a body read whole; else Lambda's 413, on a connection then closed (the rest of
    the body is never read)."""
    if whole:
        return web.Response(status=202, body=_ACCEPTED, content_type="application/json")
    refused = _error(413, "RequestEntityTooLarge", TOO_LARGE_MESSAGE)
    refused.force_close()
    return refused


TOO_LARGE_MESSAGE = f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."


class MoreRoutes(Protocol):
    """Other APIs served on the same listener (the Extensions and Telemetry APIs)."""

    def serves(self, path: str) -> bool: ...

    async def handle(self, request: BaseRequest, side: Any) -> web.StreamResponse: ...


class RuntimeApiServer:
    """Serves the Runtime API for one environment on ``127.0.0.1:<port>`` (and, through
    ``RuntimeApiTenant``, for other environments told apart by their uid)."""

    def __init__(
        self, side: RuntimeSide, allowed_uid: int | None = None, more: MoreRoutes | None = None
    ) -> None:
        """``allowed_uid``: only connections from sockets this uid owns are served (None: any);
        ``more``: other APIs answered for the same side."""
        self._side = side
        self._more = more
        self.allowed_uid = allowed_uid
        self._tenants: dict[int, RuntimeSide] = {}
        self._peer_uids: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
        self._framings: weakref.WeakKeyDictionary[object, Framing] = weakref.WeakKeyDictionary()
        self._server: asyncio.base_events.Server | None = None
        self._web = web.Server(self._handle, access_log=None)
        self.address = ""

    def bind(self, side: RuntimeSide) -> None:
        """Serve ``side`` from now on (a prepared SnapStart restore gets its environment late)."""
        self._side = side

    def admit(self, uid: int, side: RuntimeSide) -> None:
        """Serve connections from ``uid`` with ``side`` (see ``RuntimeApiTenant``)."""
        self._tenants[uid] = side

    def evict(self, uid: int) -> None:
        self._tenants.pop(uid, None)

    async def start(self, sock: socket.socket | None = None) -> str:
        """Serve on ``sock`` (a listening socket made inside an isolated environment's own
        network), else on a free loopback port; returns ``host:port``."""
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
        sock.setblocking(False)
        self._server = await asyncio.get_running_loop().create_server(self._connection, sock=sock)
        host, port = sock.getsockname()
        self.address = f"{host}:{port}"
        return self.address

    def _connection(self) -> asyncio.Protocol:
        """A new connection: aiohttp's protocol, behind one that keeps trailers (``trailers``)."""
        return TrailerKeeper(self._web(), self._framings)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._web.shutdown(0.1)
            self._server = None

    async def _handle(self, request: BaseRequest) -> web.StreamResponse:
        path = request.path
        runtime = path.startswith(PREFIX)
        more = None if runtime else self._more
        if not runtime and (more is None or not more.serves(path)):
            return _error(404, "NotFound", f"unknown path {path}")
        side = self._side_of(request)
        if side is None:
            return _error(403, "AccessDenied", "This Runtime API belongs to another execution environment")
        try:
            if more is not None:
                return await more.handle(request, side)
            return await self._route(request, path[len(PREFIX) :], side)
        except RuntimeApiError as error:
            return _error(error.status, error.error_type, error.message)

    def _side_of(self, request: BaseRequest) -> RuntimeSide | None:
        """Who the connection is for, by the uid owning its client socket as the kernel tells
        (``socket_owner.py``; asked once per connection, and only when it matters): a
        tenant's, this environment's, or nobody's."""
        if self.allowed_uid is None and not self._tenants:
            return self._side
        transport = request.transport
        if transport is None:
            return None
        uid: int | None
        if transport in self._peer_uids:
            uid = self._peer_uids[transport]
        else:
            peer = transport.get_extra_info("peername")
            server = transport.get_extra_info("sockname")
            try:
                uid = OWNERS.owner_of(peer[:2], server[:2]) if peer and server else None
            except OSError:  # the kernel could not be asked: refused, asked again next request
                uid = None
            if uid is not None:
                self._peer_uids[transport] = uid
        if uid is not None and uid in self._tenants:
            return self._tenants[uid]
        return self._side if self.allowed_uid in (None, uid) else None

    async def _route(self, request: BaseRequest, route: str, side: RuntimeSide) -> web.StreamResponse:
        method = request.method
        if route == "invocation/next" and method == "GET":
            event = await side.next_event()
            return web.Response(status=200, body=event.payload, headers=event.headers)
        if route == "init/error" and method == "POST":
            body, whole = await self._read_body(request)
            side.post_init_error(body, request.headers.get("Lambda-Runtime-Function-Error-Type"))
            return _accepted(whole)
        if route.startswith("invocation/") and method == "POST":
            request_id, _, action = route[len("invocation/") :].rpartition("/")
            if action in ("response", "error"):
                return await self._post_result(request, request_id, action, side)
        if route == "flare/held" and method == "POST":
            side.runtime_held()
            return web.Response(status=204)
        if route == "restore/next" and method == "GET":
            side.restore_next()
            return web.Response(status=200)
        if route == "restore/error" and method == "POST":
            body, whole = await self._read_body(request)
            side.post_restore_error(body, request.headers.get("Lambda-Runtime-Function-Error-Type"))
            return _accepted(whole)
        return _error(404, "NotFound", f"unknown route {method} {request.path}")

    async def _post_result(
        self, request: BaseRequest, request_id: str, action: str, side: RuntimeSide
    ) -> web.StreamResponse:
        if action == "response" and request.headers.get(RESPONSE_MODE_HEADER) == "streaming":
            return await self._post_stream(request, request_id, side)
        body, whole = await self._read_body(request)
        if action == "response":
            side.post_response(request_id, body)  # one byte past the limit: too large, as it was
        else:
            side.post_error(request_id, body, request.headers.get("Lambda-Runtime-Function-Error-Type"))
        return _accepted(whole)

    async def _post_stream(
        self, request: BaseRequest, request_id: str, side: RuntimeSide
    ) -> web.StreamResponse:
        """A streamed ``/response``: each piece to the invocation as it arrives; the end (and an
        error in the trailers) ends it. A body cut short ends it with
        ``Runtime.TruncatedResponse``, as Lambda does."""
        writer = side.begin_stream(request_id, request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE)
        try:
            async for data in request.content.iter_any():
                if not writer.write(data):  # the invocation is over (past the limit, timed out)
                    refused = _error(
                        413, "RequestEntityTooLarge", "Response payload size exceeded maximum allowed"
                    )
                    refused.force_close()  # the rest of the body (and its trailers) with the connection
                    return refused
                await writer.writable()  # a slow client holds the runtime back, not the engine's memory
        except (OSError, ClientError, HttpProcessingError, asyncio.IncompleteReadError):
            writer.end("Runtime.TruncatedResponse", b"")
            raise
        trailers = self._trailers(request)
        error_type = trailers.get(ERROR_TYPE_TRAILER) or None
        try:
            error_body = base64.b64decode(trailers.get(ERROR_BODY_TRAILER, ""), validate=True)
        except binascii.Error:
            error_body = b""
        writer.end(error_type, error_body)
        return web.Response(status=202, body=_ACCEPTED, content_type="application/json")

    async def _read_body(self, request: BaseRequest) -> tuple[bytes, bool]:
        """``(body, whole)``: the whole body (its trailers, if chunked, taken off the
        connection's framing), or, past ``MAX_RESPONSE_BYTES``, its first bytes up to one past
        the limit and False: the rest is never read (``_accepted`` closes the connection)."""
        if (request.content_length or 0) > MAX_RESPONSE_BYTES:
            return await request.content.readexactly(MAX_RESPONSE_BYTES + 1), False
        body = bytearray()
        async for data in request.content.iter_any():
            body += data
            if len(body) > MAX_RESPONSE_BYTES:
                return bytes(body[: MAX_RESPONSE_BYTES + 1]), False
        self._trailers(request)
        return bytes(body), True

    def _trailers(self, request: BaseRequest) -> dict[str, str]:
        """The trailers of ``request``, once its chunked body has been read to its end."""
        if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
            return {}
        framing = self._framings.get(request.transport) if request.transport is not None else None
        return framing.take() if framing is not None else {}


class RuntimeApiTenant:
    """One environment's share of another's ``RuntimeApiServer``: calls from ``uid`` go to this
    environment. The restores of an exec'd runtime's SnapStart template all keep the
    template's ``AWS_LAMBDA_RUNTIME_API`` (awslambdaric's compiled client reads it once, at
    import), as every Lambda environment sees the same address; the uid tells them apart."""

    def __init__(self, server: RuntimeApiServer, uid: int, side: RuntimeSide) -> None:
        self._server = server
        self.allowed_uid = uid
        server.admit(uid, side)

    @property
    def address(self) -> str:
        return self._server.address

    async def start(self, sock: socket.socket | None = None) -> str:
        return self._server.address

    def bind(self, side: RuntimeSide) -> None:
        self._server.admit(self.allowed_uid, side)

    async def stop(self) -> None:
        self._server.evict(self.allowed_uid)
