"""The front door: one asyncio protocol per connection, with a fast path for Invoke.

Invoke is the product's hot loop, and aiohttp's per-request machinery (request and response
objects, routing through every route, middleware) costs more CPU than the rest of an invoke.
So each connection starts on a lean HTTP/1.1 reader that serves the plain Invoke request
(``POST .../functions/{name}/invocations``, ``Content-Length`` body up to ``FAST_BODY_LIMIT``)
straight into ``InvokeRoute``. The first request that is anything else (another route,
HTTP/1.0, chunked, ``Expect``, a large body) hands the connection, with the bytes not yet
parsed, to aiohttp's own protocol for good; there the same ``InvokeRoute`` serves Invoke.
The fast path authenticates each request with the same ``Authenticator`` as aiohttp's
middleware (``api/authentication.py``), from the raw target and headers as they arrived, and
the connection's origin (``auth/connection_origin.py``), asked once per connection.

Requests on one connection are answered in order: while one is in flight, later bytes wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import unquote_plus

from flare.api.authentication import authenticate_parts
from flare.api.browser_guard import BrowserGuard
from flare.api.invoke import InvokeRoute, buffered_payload, function_name_of
from flare.api.wire import error_parts
from flare.auth.authenticator import Authenticator
from flare.auth.connection_origin import ConnectionOrigins
from flare.errors import FlareError, ServiceException

log = logging.getLogger("flare.api")

FAST_BODY_LIMIT = 256 * 1024
MAX_HEAD_BYTES = 64 * 1024
MAX_BUFFERED = 1024 * 1024
"""Bytes a connection may send ahead while its request is in flight before reading pauses."""
REASONS = {status.value: status.phrase for status in HTTPStatus}


@dataclass(frozen=True, slots=True)
class FastRequest:
    """One parsed Invoke request: the function name, its qualifier, lower-cased headers, body,
    and the path and query as sent (what its signature covers)."""

    name: str
    qualifier: str | None
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    path: str
    query: str


class NotFast(Exception):
    """The request is not one for the fast path: aiohttp takes the connection."""


def parse_request(buffer: bytearray, guard: BrowserGuard | None = None) -> FastRequest | None:
    """Take one complete fast-path request off the front of ``buffer``; None when more bytes
    are needed. Raises NotFast (consuming nothing) for any request the fast path leaves alone:
    among them, any that ``guard`` does not find plain (a browser's; aiohttp refuses or answers
    it, ``browser_guard.py``)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD_BYTES:
            raise NotFast
        return None
    head = buffer[:end].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "POST" or parts[2] != "HTTP/1.1":
        raise NotFast
    path, _, query = parts[1].partition("?")
    name = function_name_of(path)
    if name is None:
        raise NotFast
    odd = "\r\n:" in head or "\r\n " in head or "\r\n\t" in head or " :" in head or "\t:" in head
    headers = _headers(lines, odd)
    if "transfer-encoding" in headers or "expect" in headers:
        raise NotFast
    if ".lambda-url." in headers.get("host", "").lower():  # a function URL's request: function_url.py
        raise NotFast
    length_text = headers.get("content-length", "0")
    if guard is not None and not guard.plain(headers, length_text != "0"):
        raise NotFast
    if not length_text.isdigit() or int(length_text) > FAST_BODY_LIMIT:
        raise NotFast
    total = end + 4 + int(length_text)
    if len(buffer) < total:
        return None
    body = bytes(buffer[end + 4 : total])
    del buffer[:total]
    qualifier = None
    for pair in query.split("&") if query else ():
        key, _, value = pair.partition("=")
        if key == "Qualifier":
            qualifier = unquote_plus(value) or None
    keep_alive = headers.get("connection", "").lower() != "close"
    return FastRequest(name, qualifier, headers, body, keep_alive, path, query)


def _headers(lines: list[str], check_names: bool) -> dict[str, str]:
    """The header lines (after the request line) by lower-case name. Raises NotFast for a line
    without a colon, or (``check_names``) with an empty name or blanks around it. A head without
    ``CRLF:``, ``CRLF`` + blank or blank + ``:`` anywhere (``parse_request``'s ``odd``; a value may
    hold one too) has no such name, and its lines are read without those checks."""
    headers: dict[str, str] = {}
    if check_names:
        for line in lines[1:]:
            key, colon, value = line.partition(":")
            if not colon or not key or key[0] in " \t" or key[-1] in " \t":
                raise NotFast
            headers[key.lower()] = value.strip()
        return headers
    for line in lines[1:]:
        key, colon, value = line.partition(":")
        if not colon:
            raise NotFast
        headers[key.lower()] = value.strip()
    return headers


class HttpDate:
    """The ``Date`` header's value, formatted once per second."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._second = -1
        self._text = ""

    def __call__(self) -> str:
        now = self._now()
        if int(now) != self._second:
            self._second = int(now)
            self._text = formatdate(now, usegmt=True)
        return self._text


def response_bytes(status: int, headers: dict[str, str], body: bytes, date: str, keep_alive: bool) -> bytes:
    """One HTTP/1.1 response, as aiohttp would frame it."""
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    head += [f"{key}: {value}" for key, value in headers.items()]
    if status != 204:
        head.append(f"Content-Length: {len(body)}")
    head.append(f"Date: {date}")
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class FrontDoor(asyncio.Protocol):
    """One client connection (see the module docstring). ``fallback`` makes aiohttp's protocol."""

    def __init__(
        self,
        route: InvokeRoute,
        fallback: Callable[[], asyncio.Protocol],
        date: HttpDate,
        tasks: set[asyncio.Task[None]],
        loop: asyncio.AbstractEventLoop,
        authenticator: Authenticator,
        guard: BrowserGuard | None = None,
        origins: ConnectionOrigins | None = None,
        environment: int | None = None,
    ) -> None:
        """``environment``: the uid of the environment every connection of this listener
        comes from (an isolated network's, ``sandbox/api_door.py``); else ``origins`` is asked
        at the first request."""
        self._route = route
        self._authenticator = authenticator
        self._guard = guard
        self._origins = origins
        self._origin = environment
        self._origin_known = origins is None or environment is not None
        self._fallback = fallback
        self._date = date
        self._tasks = tasks
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._loop = loop
        self._aiohttp: asyncio.Protocol | None = None
        self._busy = False
        self._eof = False

    # ---- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        if self._origin is not None and self._origins is not None:
            self._origins.remember(transport, self._origin)  # for aiohttp, if it takes over
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self._aiohttp is not None:
            self._aiohttp.data_received(data)
            return
        self._buffer += data
        if not self._busy:
            self._serve_buffered()
        elif len(self._buffer) > MAX_BUFFERED and self._transport is not None:
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        if self._aiohttp is not None:
            return self._aiohttp.eof_received()
        self._eof = True
        if not self._busy:
            self._serve_buffered()  # a last complete request, else close
        return True  # keep the transport open for a response still being made

    def connection_lost(self, exc: Exception | None) -> None:
        if self._aiohttp is not None:
            self._aiohttp.connection_lost(exc)
        self._transport = None

    def pause_writing(self) -> None:
        if self._aiohttp is not None:
            self._aiohttp.pause_writing()

    def resume_writing(self) -> None:
        if self._aiohttp is not None:
            self._aiohttp.resume_writing()

    # ---- the fast path ---------------------------------------------------------------

    def _serve_buffered(self) -> None:
        """Serve the complete requests in the buffer in order, or hand the connection over.

        Each request runs at once up to its first wait (``start_now``); one answered without
        waiting lets this loop take the next, and one that waits takes the loop up again when
        its task ends. (A loop, not recursion: a client may pipeline thousands of errors.)
        """
        while not self._busy and self._transport is not None and not self._transport.is_closing():
            try:
                request = parse_request(self._buffer, self._guard)
            except NotFast:
                self._give_to_aiohttp()
                return
            if request is None:
                if self._eof:
                    self._transport.close()
                return
            self._busy = True
            task = start_now(self._loop, self._serve(request))
            if task is not None:
                self._tasks.add(task)
                task.add_done_callback(self._request_done)
                return

    def _request_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._buffer and not task.cancelled():  # cancelled: the server is shutting down
            self._serve_buffered()

    async def _serve(self, request: FastRequest) -> None:
        answered = False

        async def respond(status: int, headers: dict[str, str], body: bytes) -> None:
            nonlocal answered
            answered = True
            self._write(status, headers, body, request.keep_alive)

        try:
            if not self._origin_known and self._origins is not None:
                self._origin = self._origins.of(self._transport)
                self._origin_known = True
            caller = authenticate_parts(
                self._authenticator,
                "POST",
                request.path,
                request.query,
                request.headers,
                request.body,
                self._origin,
            )
            await self._route(
                caller,
                request.name,
                request.qualifier,
                request.headers,
                buffered_payload(request.body),
                respond,
            )
        except FlareError as error:
            if not answered:
                self._write(*error_parts(error), request.keep_alive)
        except Exception:
            log.exception("unhandled error in POST %s invocations", request.name)
            if not answered:
                self._write(*error_parts(ServiceException("An internal error occurred.")), request.keep_alive)
        finally:
            self._busy = False
        if self._transport is not None and not self._transport.is_reading():
            self._transport.resume_reading()
        if (not request.keep_alive or self._eof) and self._transport is not None:
            self._transport.close()

    def _write(self, status: int, headers: dict[str, str], body: bytes, keep_alive: bool) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(response_bytes(status, headers, body, self._date(), keep_alive))

    def _give_to_aiohttp(self) -> None:
        assert self._transport is not None
        protocol = self._fallback()
        self._aiohttp = protocol
        protocol.connection_made(self._transport)
        pending, self._buffer = bytes(self._buffer), bytearray()
        if pending:
            protocol.data_received(pending)
        if self._eof:
            protocol.eof_received()


def start_now(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run ``coro`` up to its first suspension now, and the rest in a Task (None if it ended
    without suspending): a warm invoke reaches its environment within this call instead of a
    loop iteration later. Python 3.12's eager tasks do the same; 3.11 has none."""
    try:
        awaited = coro.send(None)
    except StopIteration:
        return None
    return loop.create_task(_finish(coro, awaited))


async def _finish(coro: Coroutine[Any, Any, None], awaited: Any) -> None:
    await _Resume(coro, awaited)


class _Resume:
    """Drives the rest of a coroutine already started by ``start_now``: what it awaits is handed
    to the Task running this, and what the Task sends or throws goes back to it."""

    __slots__ = ("_awaited", "_coro")

    def __init__(self, coro: Coroutine[Any, Any, None], awaited: Any) -> None:
        self._coro = coro
        self._awaited = awaited

    def __await__(self) -> Generator[Any, Any, None]:
        coro, awaited = self._coro, self._awaited
        while True:
            try:
                sent = yield awaited
            except BaseException as error:  # cancellation: the coroutine gets it
                try:
                    awaited = coro.throw(error)
                except StopIteration:
                    return
            else:
                try:
                    awaited = coro.send(sent)
                except StopIteration:
                    return


class FrontDoorServer:
    """The listening socket's protocol factory, and what to close at shutdown."""

    def __init__(
        self,
        route: InvokeRoute,
        fallback: Callable[[], Any],
        now: Callable[[], float],
        authenticator: Authenticator,
        guard: BrowserGuard | None = None,
        origins: ConnectionOrigins | None = None,
    ) -> None:
        """Make it on the loop that will serve: the connections run there. ``authenticator``
        says who each request is, ``origins`` which environment's process opened its
        connection (None: environments have no uids of their own); ``guard``: what the fast
        path must leave to aiohttp (``browser_guard.py``)."""
        self._route = route
        self._authenticator = authenticator
        self._guard = guard
        self._origins = origins
        self._fallback = fallback
        self._date = HttpDate(now)
        self.tasks: set[asyncio.Task[None]] = set()
        # Asked once: on Python 3.11, each get_running_loop() costs a getpid() syscall.
        self._loop = asyncio.get_running_loop()

    def __call__(self, environment: int | None = None) -> FrontDoor:
        return FrontDoor(
            self._route,
            self._fallback,
            self._date,
            self.tasks,
            self._loop,
            self._authenticator,
            self._guard,
            self._origins,
            environment,
        )

    async def serve_environment(self, listener: socket.socket, environment: int) -> asyncio.AbstractServer:
        """Serve on ``listener``, every connection of which comes from the environment running
        as ``environment`` (an isolated network's own listener: ``sandbox/api_door.py``)."""
        listener.setblocking(False)
        return await self._loop.create_server(lambda: self(environment), sock=listener)

    async def drain(self, timeout: float) -> None:
        """Let fast-path invokes in flight finish (up to ``timeout`` seconds), then cancel them."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)
        for task in list(self.tasks):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
