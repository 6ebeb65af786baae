"""Cluster membership (``cluster/membership.py``) on a real redis-server: the token every node
agrees on (and gets back after Redis lost it), and a node that stops beating dropped after the
TTL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis

from flare.clock import SystemClock
from flare.cluster.link import ClusterLink
from flare.cluster.membership import TOKEN, Membership, NodeInfo
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed")


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    made = redis.Redis.from_url(redis_server.url)
    made.flushall()
    yield made
    made.close()


def member(url: str, name: str, ttl_s: float = 10.0) -> Membership:
    info = NodeInfo(name, f"http://{name}:9000", 10, 1024, 8, 0, 0)
    return Membership(ClusterLink(url, name), SystemClock(), lambda: info, ttl_s)


def stored_token(client: redis.Redis) -> str:
    """The cluster token Redis holds (its client answers bytes)."""
    value = client.get(TOKEN)
    assert isinstance(value, bytes)
    return value.decode()


def test_every_node_gets_the_first_nodes_token_and_redis_gets_it_back(
    client: redis.Redis, redis_server: RedisServer
) -> None:
    async def scenario() -> None:
        first, second = member(redis_server.url, "a"), member(redis_server.url, "b")
        await first.start()
        await second.start()
        assert first.token and second.token == first.token == stored_token(client)
        client.delete(TOKEN)  # Redis lost its data
        await second.beat()
        await first.beat()
        assert stored_token(client) == first.token == second.token
        await first.stop()
        await second.stop()

    asyncio.run(scenario())


def test_a_node_that_stops_beating_is_dropped_after_the_ttl(
    client: redis.Redis, redis_server: RedisServer
) -> None:
    async def scenario() -> None:
        stays, silent = member(redis_server.url, "stays", 0.3), member(redis_server.url, "silent", 0.3)
        await stays.start()
        await silent.beat()  # once, and never again (no start: no timer)
        assert [node.info.name for node in await stays.live_nodes()] == ["silent", "stays"]
        await asyncio.sleep(0.5)
        assert [node.info.name for node in await stays.live_nodes()] == ["stays"]
        assert stays.live[0].info.url == "http://stays:9000"
        await stays.stop()

    asyncio.run(scenario())
