"""One raw HTTP/1.1 exchange with a server: the request's exact bytes out, the reply parsed.

The fuzzer sends requests no HTTP library would build (a path with ``%00``, a body that is not
what its ``Content-Type`` says, header values in latin-1), so it writes bytes to a socket and
lets ``http.client`` parse only the answer.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from tests.signing import signed_headers


@dataclass(frozen=True)
class RawRequest:
    """What to send: ``target`` is the path and query exactly as they go on the wire."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    service: str = "lambda"

    def describe(self) -> str:
        head = f"{self.method} {self.target[:300]} headers={list(self.headers)[:12]}"
        return f"{head} body[{len(self.body)}]={self.body[:300]!r}"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Socket:
    """What ``http.client.HTTPResponse`` needs of a socket: ``makefile``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def makefile(self, mode: Literal["rb"]) -> BinaryIO:
        return self._sock.makefile(mode)


def signed_bytes(base_url: str, request: RawRequest, signature: str = "valid") -> bytes:
    """The whole request, signed over exactly what is sent (``signature``: ``valid``, or one of
    the broken kinds in ``BROKEN_SIGNATURES``)."""
    host = base_url.removeprefix("http://").rstrip("/")
    headers = dict(request.headers)
    signed = signed_headers(
        request.method, f"http://{host}{request.target}", request.body, headers, service=request.service
    )
    signed = BROKEN_SIGNATURES[signature](signed)
    lines = [f"{request.method} {request.target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in signed.items() if name.lower() != "content-length"]
    lines.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + request.body


def _without(name: str) -> Any:
    return lambda headers: {key: value for key, value in headers.items() if key.lower() != name}


def _replace(name: str, change: Any) -> Any:
    def replaced(headers: dict[str, str]) -> dict[str, str]:
        return {key: change(value) if key.lower() == name else value for key, value in headers.items()}

    return replaced


BROKEN_SIGNATURES: dict[str, Any] = {
    "valid": lambda headers: headers,
    "unsigned": _without("authorization"),
    "no-date": _without("x-amz-date"),
    "flipped": _replace(
        "authorization", lambda value: value[:-4] + ("0000" if value[-4:] != "0000" else "1111")
    ),
    "garbage": _replace("authorization", lambda value: "AWS4-HMAC-SHA256 Credential=/,,,=Signature"),
    "truncated": _replace("authorization", lambda value: value[: len(value) // 2]),
    "other-algorithm": _replace(
        "authorization", lambda value: value.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-MD5")
    ),
    "old-date": _replace("x-amz-date", lambda value: "19990101T000000Z"),
    "bad-date": _replace("x-amz-date", lambda value: "not-a-date"),
}


def exchange(base_url: str, data: bytes, timeout: float = 30) -> Reply:
    """Send ``data`` on a new connection and read the one reply."""
    host, port = base_url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        # the server may answer (and close) before reading it all: then read that answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        # typeshed wants a socket; HTTPResponse calls only makefile("rb")
        response = http.client.HTTPResponse(_Socket(sock))  # type: ignore[arg-type]
        response.begin()
        streaming = "eventstream" in (response.getheader("Content-Type") or "")
        # an event stream (StartLiveTail, SubscribeToShard) lasts minutes by design: its head says
        # how it was answered
        body = b"" if streaming and response.status < 400 else response.read()
        return Reply(response.status, {key.lower(): value for key, value in response.getheaders()}, body)
