"""The three measurements: pure timing loops over raw HTTP/1.1, plus percentile math.

Every loop here speaks the Lambda Invoke API
(``POST /2015-03-31/functions/{name}/invocations``) with prebuilt request bytes, so the
client's own cost stays far below what is being measured. Nothing here starts servers or
knows which engine it talks to: the caller hands in an :class:`Endpoint`.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

INVOKE_BODY = b"{}"
_HEADER_END = b"\r\n\r\n"
_RECV = 65536


class InvokeError(RuntimeError):
    """An invoke answered with something other than HTTP 200, or the connection broke."""


BENCH_CREDENTIALS = ("test", "test")
"""The key the bench signs with (``flare serve --auth open``: any key is the default account's)."""
BENCH_REGION = "us-east-1"


@dataclass(frozen=True)
class Endpoint:
    """Where to invoke one function: a host, a port and the function's name."""

    host: str
    port: int
    function: str
    log_tail: bool = False
    """Ask for ``X-Amz-Log-Result`` (``X-Amz-Log-Type: Tail``)."""
    credentials: tuple[str, str] = BENCH_CREDENTIALS
    """The key and secret the request is signed with (a ``--auth sigv4`` server's own)."""

    @property
    def path(self) -> str:
        """The Invoke API path for this function."""
        return f"/2015-03-31/functions/{self.function}/invocations"

    def request_bytes(self) -> bytes:
        """One complete keep-alive Invoke request with body ``{}``, signed once (SigV4, by
        botocore, as boto3 signs: Flare refuses unsigned requests) and ready to send."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        headers = {"Content-Type": "application/json"}
        if self.log_tail:
            headers["X-Amz-Log-Type"] = "Tail"
        request = AWSRequest(
            "POST", f"http://{self.host}:{self.port}{self.path}", data=INVOKE_BODY, headers=headers
        )
        SigV4Auth(Credentials(*self.credentials), "lambda", BENCH_REGION).add_auth(request)
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items()]
        lines += [f"Content-Length: {len(INVOKE_BODY)}", "Connection: keep-alive", "", ""]
        return "\r\n".join(lines).encode("ascii") + INVOKE_BODY


@dataclass(frozen=True)
class Response:
    """One parsed HTTP response: status, lower-cased headers and the whole body."""

    status: int
    headers: dict[str, str]
    body: bytes


def parse_response(buf: bytes | bytearray) -> tuple[Response, int] | None:
    """Parse one HTTP/1.1 response from the start of ``buf``.

    Returns ``(response, bytes_consumed)`` once a whole response is in ``buf``, or ``None``
    while more bytes are needed. Handles ``Content-Length`` and chunked bodies; a response
    with neither has an empty body (keep-alive servers always send one of them).
    Raises :class:`InvokeError` on a malformed status line.
    """
    end = buf.find(_HEADER_END)
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise InvokeError(f"malformed status line: {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + len(_HEADER_END)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return _parse_chunked(buf, start, int(parts[1]), headers)
    length = int(headers.get("content-length", "0"))
    if len(buf) < start + length:
        return None
    return Response(int(parts[1]), headers, bytes(buf[start : start + length])), start + length


def _parse_chunked(
    buf: bytes | bytearray, pos: int, status: int, headers: dict[str, str]
) -> tuple[Response, int] | None:
    """Decode a chunked body starting at ``pos``; ``None`` while incomplete (no trailers)."""
    body = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            if len(buf) < pos + 2:
                return None
            return Response(status, headers, bytes(body)), pos + 2
        if len(buf) < pos + size + 2:
            return None
        body += buf[pos : pos + size]
        pos += size + 2


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``samples`` by linear interpolation.

    Same definition as numpy's default: rank ``(n - 1) * q / 100`` between sorted samples.
    Raises ValueError on an empty sequence or ``q`` outside 0..100.
    """
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencyStats:
    """Latency summary in milliseconds over ``count`` samples."""

    count: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @classmethod
    def from_seconds(cls, samples: Sequence[float]) -> LatencyStats:
        """Summarise non-empty samples given in seconds."""
        ms = [s * 1000.0 for s in samples]
        return cls(len(ms), percentile(ms, 50), percentile(ms, 99), sum(ms) / len(ms), max(ms))


@dataclass(frozen=True)
class ThroughputStats:
    """Completed invokes per second with ``clients`` connections over ``seconds``."""

    clients: int
    seconds: float
    completed: int
    errors: int
    per_second: float
    client_cpu: float
    """Client process CPU time / wall time while measuring (1.0 = one core saturated)."""


class Connection:
    """One blocking keep-alive connection with TCP_NODELAY that sends prebuilt invokes.

    Contract: ``invoke()`` sends exactly one request and returns its parsed response;
    it raises :class:`InvokeError` if the server closes the connection first.
    """

    def __init__(self, endpoint: Endpoint, timeout: float = 30.0) -> None:
        self._request = endpoint.request_bytes()
        self._sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()

    def invoke(self) -> Response:
        """Send one invoke and block until its whole response has arrived."""
        self._sock.sendall(self._request)
        while True:
            parsed = parse_response(self._buf)
            if parsed is not None:
                response, used = parsed
                del self._buf[:used]
                return response
            chunk = self._sock.recv(_RECV)
            if not chunk:
                raise InvokeError("server closed the connection mid-invoke")
            self._buf += chunk

    def close(self) -> None:
        """Close the socket; safe to call twice."""
        self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def check_ok(response: Response) -> None:
    """Raise :class:`InvokeError` unless this is a successful invoke returning ``{"ok": true}``."""
    if response.status != 200 or "x-amz-function-error" in response.headers:
        raise InvokeError(f"invoke failed: HTTP {response.status} {response.body[:300]!r}")
    if b'"ok"' not in response.body:
        raise InvokeError(f"unexpected invoke payload: {response.body[:300]!r}")


def _is_ok(response: Response) -> bool:
    """The cheap form of :func:`check_ok` used in the throughput loop."""
    return (
        response.status == 200 and b'"ok"' in response.body and "x-amz-function-error" not in response.headers
    )


def time_one_invoke(endpoint: Endpoint) -> float:
    """Open a fresh connection, then time one invoke (send to last byte); seconds.

    The connect happens before the clock starts, so only the invoke is timed.
    """
    with Connection(endpoint) as conn:
        start = time.perf_counter()
        response = conn.invoke()
        elapsed = time.perf_counter() - start
    check_ok(response)
    return elapsed


def cold_starts(endpoint: Endpoint, iterations: int, force_cold: Callable[[int], None]) -> LatencyStats:
    """Time ``iterations`` invokes, each right after ``force_cold(i)`` made the next one cold.

    ``force_cold`` runs outside the timed region; it must return only once the engine is
    ready to serve an invoke that needs a fresh environment.
    """
    samples: list[float] = []
    for i in range(iterations):
        force_cold(i)
        samples.append(time_one_invoke(endpoint))
    return LatencyStats.from_seconds(samples)


def warm_latency(endpoint: Endpoint, iterations: int, warmup: int) -> LatencyStats:
    """Sequential invokes over one keep-alive connection: ``warmup`` untimed, then ``iterations`` timed.

    Every response is checked to be a successful ``{"ok": true}``.
    """
    samples: list[float] = []
    clock = time.perf_counter
    with Connection(endpoint) as conn:
        for _ in range(warmup):
            check_ok(conn.invoke())
        for _ in range(iterations):
            start = clock()
            response = conn.invoke()
            samples.append(clock() - start)
            check_ok(response)
    return LatencyStats.from_seconds(samples)


class _InvokeLoop(asyncio.Protocol):
    """One keep-alive connection that sends the next invoke as soon as a response is in."""

    def __init__(self, request: bytes, counts: list[int]) -> None:
        self._request = request
        self._counts = counts  # [completed_ok, errors], shared by all connections
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self.stopping = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while (parsed := parse_response(self._buf)) is not None:
            response, used = parsed
            del self._buf[:used]
            self._counts[0 if _is_ok(response) else 1] += 1
            if self._transport is not None and not self.stopping:
                self._transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


async def _throughput(endpoint: Endpoint, clients: int, warmup: float, seconds: float) -> ThroughputStats:
    loop = asyncio.get_running_loop()
    counts = [0, 0]
    request = endpoint.request_bytes()
    protocols: list[_InvokeLoop] = []
    transports: list[asyncio.BaseTransport] = []
    try:
        for _ in range(clients):
            conn_transport, protocol = await loop.create_connection(
                lambda: _InvokeLoop(request, counts), endpoint.host, endpoint.port
            )
            transports.append(conn_transport)
            protocols.append(protocol)
        await asyncio.sleep(warmup)
        done0, err0, t0, cpu0 = counts[0], counts[1], time.perf_counter(), time.process_time()
        await asyncio.sleep(seconds)
        done1, err1, t1, cpu1 = counts[0], counts[1], time.perf_counter(), time.process_time()
    finally:
        for protocol in protocols:
            protocol.stopping = True
        for transport in transports:
            transport.close()
        if protocols:
            await asyncio.wait([p.lost for p in protocols], timeout=2.0)
    wall = t1 - t0
    return ThroughputStats(
        clients, wall, done1 - done0, err1 - err0, (done1 - done0) / wall, (cpu1 - cpu0) / wall
    )


def throughput(
    endpoint: Endpoint, clients: int = 8, warmup: float = 1.0, seconds: float = 5.0
) -> ThroughputStats:
    """Invokes per second with ``clients`` concurrent keep-alive connections, one request in flight each.

    One event loop, the engine's kind (``flare.server.event_loop_factory``: uvloop's unless
    ``FLARE_EVENT_LOOP=asyncio``), drives every connection with prebuilt request bytes: the
    cheapest client on a 2-core box, where the client's CPU is taken from the server measured.
    Connections run ``warmup`` seconds untimed, then completions are counted for ``seconds``.
    Answers other than a successful ``{"ok": true}`` count as errors, not completions.
    """
    from flare.server import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(_throughput(endpoint, clients, warmup, seconds))
