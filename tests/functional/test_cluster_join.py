"""``flare serve --cluster URL --node-name N``: what is checked before a node starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import FLARE, free_port, launch
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(
    not available(), reason="redis-server is not installed (make install, as root)"
)


def serve_refused(tmp_path: Path, *extra: str) -> str:
    """``flare serve`` with ``extra``: it must exit 2 (a usage error) at once; its output."""
    args = [str(FLARE), "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "data"), *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done
    return done.stderr


def test_a_redis_that_does_not_answer_stops_the_node_before_it_serves(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    error = serve_refused(tmp_path, "--cluster", url)
    assert f"Redis at {url} does not answer" in error


def test_a_url_that_is_not_redis_is_a_usage_error(tmp_path: Path) -> None:
    error = serve_refused(tmp_path, "--cluster", "http://127.0.0.1:6379")
    assert "redis://, rediss:// or unix://" in error


def test_a_node_name_outside_the_pattern_is_a_usage_error(tmp_path: Path, redis_server: RedisServer) -> None:
    error = serve_refused(tmp_path, "--cluster", redis_server.url, "--node-name", "-bad name")
    assert "a node name is 1 to 63" in error


def test_a_node_name_without_a_cluster_is_a_usage_error(tmp_path: Path) -> None:
    error = serve_refused(tmp_path, "--node-name", "a")
    assert "give --cluster too" in error


def test_a_node_joins_a_redis_that_answers_and_says_so(tmp_path: Path, redis_server: RedisServer) -> None:
    server = launch(tmp_path, "--cluster", redis_server.url, "--node-name", "node-a")
    try:
        assert server.client().list_functions()["Functions"] == []
    finally:
        server.stop()
        banner = server.process.stdout.read() if server.process.stdout else ""
    assert f"node node-a of the cluster on {redis_server.url}" in banner
