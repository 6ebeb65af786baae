"""HTTP trailers of the requests on one Runtime API connection, which aiohttp parses and drops.

A runtime that streams its response reports an error that happens mid-stream in trailers after
the last chunk (``Lambda-Runtime-Function-Error-Type`` and ``-Body``, base64). aiohttp reads
trailers and throws them away, so each Runtime API connection is wrapped by ``TrailerKeeper``:
it follows the framing of the requests (heads, ``Content-Length`` bodies, chunks) in the bytes
*before* aiohttp gets them, and keeps the trailers of each chunked request, in order. A handler
that has read a chunked body to its end takes that body's trailers with ``Framing.take()``: they
were in bytes the keeper saw before aiohttp could end the body.

The keeper only watches; what it cannot follow (a malformed request) it stops following, and
aiohttp answers that request as it would have.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import MutableMapping

MAX_LINE = 64 * 1024


class _State(enum.Enum):
    HEAD = 1
    BODY = 2
    CHUNK_SIZE = 3
    CHUNK_DATA = 4
    TRAILERS = 5
    LOST = 6


class Framing:
    """Follows the framing of HTTP/1.1 requests fed to it in order (``feed``), and keeps the
    trailers (lower-cased names) of every chunked request that ended, oldest first."""

    def __init__(self) -> None:
        self._state = _State.HEAD
        self._line = bytearray()
        self._head: list[bytes] = []
        self._remaining = 0
        self._trailers: dict[str, str] = {}
        self._ended: deque[dict[str, str]] = deque()

    def take(self) -> dict[str, str]:
        """The trailers of the oldest chunked request not yet taken ({} when there is none)."""
        return self._ended.popleft() if self._ended else {}

    def feed(self, data: bytes) -> None:
        pos, size = 0, len(data)
        while pos < size and self._state is not _State.LOST:
            if self._state in (_State.BODY, _State.CHUNK_DATA):
                step = min(self._remaining, size - pos)
                pos += step
                self._remaining -= step
                if not self._remaining:
                    self._state = _State.HEAD if self._state is _State.BODY else _State.CHUNK_SIZE
                continue
            end = data.find(b"\n", pos)
            if end < 0:
                self._line += data[pos:]
                if len(self._line) > MAX_LINE:
                    self._state = _State.LOST
                return
            self._line += data[pos:end]
            pos = end + 1
            line = bytes(self._line).rstrip(b"\r")
            self._line.clear()
            self._on_line(line)

    def _on_line(self, line: bytes) -> None:
        if self._state is _State.HEAD:
            if line or self._head:  # empty lines between requests are allowed
                self._head.append(line)
            if not line and self._head:
                self._head_ended()
        elif self._state is _State.CHUNK_SIZE:
            try:
                length = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self._state = _State.LOST
                return
            self._remaining = length + 2  # the chunk and its CRLF
            self._state = _State.CHUNK_DATA if length else _State.TRAILERS
        elif self._state is _State.TRAILERS:
            if line:
                name, _, value = line.decode("latin-1").partition(":")
                self._trailers[name.strip().lower()] = value.strip()
            else:
                self._ended.append(self._trailers)
                self._trailers = {}
                self._state = _State.HEAD

    def _head_ended(self) -> None:
        headers: dict[str, str] = {}
        for line in self._head[1:-1]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        self._head.clear()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = _State.CHUNK_SIZE
            return
        length = headers.get("content-length", "0")
        if not length.isdigit():
            self._state = _State.LOST
            return
        self._remaining = int(length)
        self._state = _State.BODY if self._remaining else _State.HEAD


class TrailerKeeper(asyncio.Protocol):
    """A connection's protocol in front of aiohttp's: feeds every byte to its ``Framing`` first,
    which it files in ``framings`` under the connection's transport."""

    def __init__(self, inner: asyncio.Protocol, framings: MutableMapping[object, Framing]) -> None:
        self._inner = inner
        self._framings = framings
        self.framing = Framing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._framings[transport] = self.framing
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.framing.feed(data)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()
