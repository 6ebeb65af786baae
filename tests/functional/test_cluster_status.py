"""``GET /flare/v1/cluster`` of a node on loopback: what it says of itself, ``--advertise-url``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FLARE, free_port, launch
from tests.redis_server import RedisServer, available
from tests.signing import signed_urlopen

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed")


def test_a_node_advertises_the_url_it_is_given(tmp_path: Path, redis_server: RedisServer) -> None:
    advertised = "http://10.1.2.3:9000"
    server = launch(
        tmp_path, "--cluster", redis_server.url, "--node-name", "pod-a", "--advertise-url", advertised
    )
    try:
        with signed_urlopen(f"{server.url}/flare/v1/cluster") as response:
            answer = json.loads(response.read())
    finally:
        server.stop()
    assert answer["Node"] == "pod-a"
    assert [(node["Name"], node["Url"]) for node in answer["Nodes"]] == [("pod-a", advertised)]


def test_a_node_that_stops_leaves_at_once(tmp_path: Path, redis_server: RedisServer) -> None:
    first = launch(tmp_path / "a", "--cluster", redis_server.url, "--node-name", "stays")
    second = launch(tmp_path / "b", "--cluster", redis_server.url, "--node-name", "leaves")
    try:
        second.stop()
        with signed_urlopen(f"{first.url}/flare/v1/cluster") as response:
            names = [node["Name"] for node in json.loads(response.read())["Nodes"]]
    finally:
        first.stop()
    assert names == ["stays"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--advertise-url", "http://10.1.2.3:9000"), "give --cluster too"),
        (
            ("--cluster", "redis://127.0.0.1:1/0", "--advertise-url", "10.1.2.3:9000"),
            "is not http://host:port",
        ),
    ],
)
def test_advertise_url_needs_a_cluster_and_a_url(
    tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    args = [str(FLARE), "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "data"), *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_a_node_whose_redis_is_gone_answers_status_with_a_service_exception(tmp_path: Path) -> None:
    import urllib.error

    own = RedisServer.start(tmp_path / "redis")
    server = launch(tmp_path / "node", "--cluster", own.url, "--node-name", "alone")
    try:
        own.kill()
        with pytest.raises(urllib.error.HTTPError) as refused:
            signed_urlopen(f"{server.url}/flare/v1/cluster")
        body = json.loads(refused.value.read())
    finally:
        server.stop()
        own.stop()
    assert refused.value.code == 500
    assert refused.value.headers["x-amzn-ErrorType"] == "ServiceException"
    assert "the cluster's Redis did not answer" in body["message"]
