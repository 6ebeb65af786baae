"""What a reader of the live feed costs the invoke path: ``python -m bench.live_feed``.

One ``flare serve``, the bench's hello-world at 128 MB, and the same measurements (warm latency
of sequential invokes, throughput of 8 clients) three times: with nobody reading the feed (no
event is built), with a reader that keeps up (``GET /flare/v1/live`` read in a thread, as
``flare top`` reads it), and with a stalled reader (the stream requested, never read: its
socket fills, its queue fills, and it misses events). Prints a markdown table; nothing is
recorded (``bench/RESULTS.md`` keeps what a session chose to keep, with this command).
"""

from __future__ import annotations

import socket
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import harness, measure


def signed_headers(url: str) -> dict[str, str]:
    """The headers that sign ``GET url`` as boto3 would (Flare refuses unsigned requests)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest("GET", url)
    SigV4Auth(Credentials("x", "x"), "lambda", "us-east-1").add_auth(request)
    return dict(request.headers.items())


WARM_ITERATIONS = 2000
WARM_WARMUP = 200
THROUGHPUT_S = 5.0


@contextmanager
def no_reader(url: str) -> Iterator[None]:
    yield


@contextmanager
def keeping_up(url: str) -> Iterator[None]:
    """A reader that reads every event as it comes."""
    live = f"{url}/flare/v1/live"
    stream = urllib.request.urlopen(urllib.request.Request(live, headers=signed_headers(live)), timeout=60)

    def read() -> None:
        try:
            for _ in stream:
                pass
        except (OSError, ValueError, AttributeError):  # closed under it by the main thread
            pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stream.close()


@contextmanager
def stalled(url: str) -> Iterator[None]:
    """A reader that asks for the stream and never reads a byte of it."""
    host, port = url.removeprefix("http://").split(":")
    headers = signed_headers(f"{url}/flare/v1/live")
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    connection = socket.create_connection((host, int(port)))
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    connection.sendall(f"GET /flare/v1/live HTTP/1.1\r\nHost: {host}:{port}\r\n{head}\r\n".encode())
    try:
        yield
    finally:
        connection.close()


READERS = (("nobody reading", no_reader), ("a reader keeping up", keeping_up), ("a stalled reader", stalled))


def main() -> None:
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="flare-bench-live-") as tmp,
        harness.flare_server(Path(tmp) / "data", Path(tmp) / "flare.log") as server,
    ):
        harness.deploy(harness.lambda_client(server.url))
        endpoint = measure.Endpoint(server.host, server.port, harness.FUNCTION_NAME)
        measure.time_one_invoke(endpoint)
        for label, reader in READERS:
            with reader(server.url):
                warm = measure.warm_latency(endpoint, WARM_ITERATIONS, WARM_WARMUP)
                rate = measure.throughput(endpoint, 8, 1.5, THROUGHPUT_S)
            rows.append(f"| {label} | {warm.p50_ms:.3f} | {warm.p99_ms:.3f} | {rate.per_second:,.0f} |")
    print("| feed | warm p50 (ms) | warm p99 (ms) | throughput, 8 clients (inv/s) |")
    print("| --- | ---: | ---: | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
