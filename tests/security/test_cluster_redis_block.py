"""A handler on a cluster node cannot reach the cluster's Redis (which holds every function, key
and secret of the cluster, and takes commands from whoever connects), in the default (host)
network mode, while the node itself and Flare's endpoint are reached as before.

The Redis runs on 127.0.0.1, where a handler in the host's network would otherwise connect to
it (the proof that the test can fail). Needs root and ``nft``; skips otherwise."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flare.sandbox.link_local_block import find_nft
from tests.conftest import FlareServer, create_function, launch, python_function
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or find_nft() is None or not available(),
    reason="needs root, nft (Debian nftables) and redis-server",
)

PROBE = """
import errno, socket
def attempt(port, hello):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(hello)
        return sock.recv(64).decode()
    except socket.timeout:
        return "timeout"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error))
    finally:
        sock.close()
def handler(event, context):
    return {
        "redis": attempt(event["redis"], b"PING\\r\\n"),
        "flare": attempt(event["flare"], b"GET /metrics HTTP/1.0\\r\\n\\r\\n")[:5],
    }
"""


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[FlareServer, RedisServer]]:
    redis = RedisServer.start(tmp_path / "redis")
    server = launch(tmp_path, "--cluster", redis.url, "--node-name", "guarded")
    try:
        yield server, redis
    finally:
        server.stop()
        redis.stop()


def test_a_handler_cannot_reach_the_clusters_redis(node: tuple[FlareServer, RedisServer]) -> None:
    server, redis = node
    lam: Any = server.client()
    create_function(lam, "redis-probe", python_function(PROBE), Timeout=30)
    event = {"redis": redis.port, "flare": int(server.url.rsplit(":", 1)[1])}
    result = json.loads(
        lam.invoke(FunctionName="redis-probe", Payload=json.dumps(event).encode())["Payload"].read()
    )
    assert result == {"redis": "ECONNREFUSED", "flare": "HTTP/"}
    with socket.create_connection(("127.0.0.1", redis.port), timeout=2) as own:  # the host still does
        own.sendall(b"PING\r\n")
        assert own.recv(64) == b"+PONG\r\n"
