"""A burst: ``n`` signed sync invokes sent at once, each on a connection of its own, and what
came back (``python -m bench --only scale`` runs it against a cold function; see
:mod:`bench.scale`).

One thread drives every connection with a selector, so the client's own cost does not
serialise the requests: all ``n`` are connected first, then each request is written, then
the answers are read as they come.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

from bench import measure


@dataclass
class BurstResult:
    """Statuses counted (``"200"``, ``"429"``, ``"function error"``, ``"broken"``...) and the
    seconds from the first request written to each answer, in arrival order."""

    n: int
    statuses: Counter[str] = field(default_factory=Counter)
    answered_s: list[float] = field(default_factory=list)

    @property
    def last_s(self) -> float | None:
        return max(self.answered_s) if self.answered_s else None

    @property
    def ok(self) -> int:
        return self.statuses["200"]


def _status(response: measure.Response) -> str:
    if response.status == 200 and "x-amz-function-error" in response.headers:
        return "function error"
    return str(response.status)


def fire(endpoint: measure.Endpoint, n: int, timeout_s: float = 120.0) -> BurstResult:
    """Send ``n`` invokes to ``endpoint`` at once; wait for every answer (or ``timeout_s``)."""
    request = endpoint.request_bytes()
    result = BurstResult(n)
    sockets = [socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s) for _ in range(n)]
    buffers: dict[socket.socket, bytearray] = {}
    with selectors.DefaultSelector() as selector:
        began = time.perf_counter()
        for sock in sockets:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(request)
            sock.setblocking(False)
            buffers[sock] = bytearray()
            selector.register(sock, selectors.EVENT_READ)
        while buffers and time.perf_counter() - began < timeout_s:
            for key, _events in selector.select(timeout=1.0):
                _read(key.fileobj, buffers, selector, result, began)  # type: ignore[arg-type]
        result.statuses["no answer"] += len(buffers)
    for sock in sockets:
        sock.close()
    return result


def _read(
    sock: socket.socket,
    buffers: dict[socket.socket, bytearray],
    selector: selectors.BaseSelector,
    result: BurstResult,
    began: float,
) -> None:
    """Read what ``sock`` has; once its whole answer is in, count it and stop watching it."""
    try:
        chunk = sock.recv(65536)
    except BlockingIOError:
        return
    except OSError:
        chunk = b""
    buffer = buffers[sock]
    buffer += chunk
    parsed = measure.parse_response(buffer) if chunk else None
    if parsed is None and chunk:
        return
    selector.unregister(sock)
    del buffers[sock]
    result.statuses[_status(parsed[0]) if parsed else "broken"] += 1
    result.answered_s.append(time.perf_counter() - began)
