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
import json
import socket
import weakref
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from aiohttp.web_request import BaseRequest

from flare.sandbox.peer import tcp_owner_uid

PREFIX = "/2018-06-01/runtime/"


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


class RuntimeSide(Protocol):
    async def next_event(self) -> NextEvent: ...

    def post_response(self, request_id: str, body: bytes) -> None: ...

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None: ...

    def post_init_error(self, body: bytes, error_type: str | None) -> None: ...


def _error(status: int, error_type: str, message: str) -> web.Response:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return web.Response(status=status, body=body, content_type="application/json")


_ACCEPTED = json.dumps({"status": "OK"}).encode()


class RuntimeApiServer:
    """Serves the Runtime API for one environment on ``127.0.0.1:<port>``."""

    def __init__(self, side: RuntimeSide, allowed_uid: int | None = None) -> None:
        """``allowed_uid``: only connections from sockets this uid owns are served (None: any)."""
        self._side = side
        self.allowed_uid = allowed_uid
        self._trusted: weakref.WeakSet[object] = weakref.WeakSet()
        self._server: asyncio.base_events.Server | None = None
        self._web = web.Server(self._handle, access_log=None)
        self.address = ""

    def bind(self, side: RuntimeSide) -> None:
        """Serve ``side`` from now on (a prepared SnapStart restore gets its environment late)."""
        self._side = side

    async def start(self, sock: socket.socket | None = None) -> str:
        """Serve on ``sock`` (a listening socket made inside an isolated environment's own
        network), else on a free loopback port; returns ``host:port``."""
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
        sock.setblocking(False)
        self._server = await asyncio.get_running_loop().create_server(self._web, sock=sock)
        host, port = sock.getsockname()
        self.address = f"{host}:{port}"
        return self.address

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._web.shutdown(0.1)
            self._server = None

    async def _handle(self, request: BaseRequest) -> web.StreamResponse:
        path = request.path
        if not path.startswith(PREFIX):
            return _error(404, "NotFound", f"unknown path {path}")
        if self.allowed_uid is not None and not self._from_environment(request):
            return _error(403, "AccessDenied", "This Runtime API belongs to another execution environment")
        route = path[len(PREFIX) :]
        try:
            return await self._route(request, route)
        except RuntimeApiError as error:
            return _error(error.status, error.error_type, error.message)

    def _from_environment(self, request: BaseRequest) -> bool:
        """Whether the connection comes from this environment's uid (checked once per connection)."""
        transport = request.transport
        if transport is None:
            return False
        if transport in self._trusted:
            return True
        peer = transport.get_extra_info("peername")
        if not peer or tcp_owner_uid(peer[0], peer[1]) != self.allowed_uid:
            return False
        self._trusted.add(transport)
        return True

    async def _route(self, request: BaseRequest, route: str) -> web.StreamResponse:
        method = request.method
        if route == "invocation/next" and method == "GET":
            event = await self._side.next_event()
            return web.Response(status=200, body=event.payload, headers=event.headers)
        if route == "init/error" and method == "POST":
            body = await request.content.read()
            self._side.post_init_error(body, request.headers.get("Lambda-Runtime-Function-Error-Type"))
            return web.Response(status=202, body=_ACCEPTED, content_type="application/json")
        if route.startswith("invocation/") and method == "POST":
            request_id, _, action = route[len("invocation/") :].rpartition("/")
            if action in ("response", "error"):
                return await self._post_result(request, request_id, action)
        if route in ("restore/next", "restore/error"):
            raise RuntimeApiError(
                403, "InvalidStateTransition", "This environment was not restored from a snapshot"
            )
        return _error(404, "NotFound", f"unknown route {method} {request.path}")

    async def _post_result(self, request: BaseRequest, request_id: str, action: str) -> web.StreamResponse:
        body = await request.content.read()
        if action == "response":
            self._side.post_response(request_id, body)
        else:
            self._side.post_error(request_id, body, request.headers.get("Lambda-Runtime-Function-Error-Type"))
        return web.Response(status=202, body=_ACCEPTED, content_type="application/json")
