"""The shared event source mapping store (``cluster/redis_mappings.py``) on a real redis-server:
two nodes' writes compare and set (of two made against one revision, one lands; of two creates
of one source and function, one lands), creation order is kept, every write is announced on
the scope's change channel, and a delete takes the mapping's stream checkpoints with it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from flare.cluster.link import ClusterLink
from flare.cluster.redis_mappings import NEW, RedisMappingStore, Scripts
from flare.cluster.redis_shard_leases import checkpoints_key
from flare.errors import StaleRevision
from flare.scope import Scope
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed")

SCOPE = Scope("123456789012", "us-east-1")
SOURCE = "arn:aws:sqs:us-east-1:123456789012:q"


@pytest.fixture
def nodes(redis_server: RedisServer) -> Iterator[tuple[RedisMappingStore, RedisMappingStore]]:
    links = [ClusterLink(redis_server.url, name) for name in ("a", "b")]
    links[0].sync.flushall()
    yield (
        RedisMappingStore(links[0], SCOPE, Scripts.register(links[0].sync)),
        RedisMappingStore(links[1], SCOPE, Scripts.register(links[1].sync)),
    )
    for link in links:
        link.sync.close()


def config(uuid: str, revision: str, function: str = "f", **more: Any) -> dict[str, Any]:
    return {
        "UUID": uuid,
        "EventSourceArn": SOURCE,
        "FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
        "_revision": revision,
        **more,
    }


def test_of_two_changes_against_one_revision_one_lands(nodes: tuple[RedisMappingStore, ...]) -> None:
    a, b = nodes
    a.put_mapping("m1", config("m1", "r1"), NEW)
    a.put_mapping("m1", config("m1", "r2", BatchSize=5), "r1")
    with pytest.raises(StaleRevision):
        b.put_mapping("m1", config("m1", "r3", BatchSize=7), "r1")
    stored = b.get_mapping("m1")
    assert stored is not None and stored["BatchSize"] == 5 and stored["_revision"] == "r2"
    b.put_mapping("m1", stored | {"BatchSize": 7, "_revision": "r3"}, "r2")  # made again on a fresh read
    assert a.get_mapping("m1") == stored | {"BatchSize": 7, "_revision": "r3"}


def test_of_two_creates_of_one_source_and_function_one_lands(nodes: tuple[RedisMappingStore, ...]) -> None:
    a, b = nodes
    a.put_mapping("m1", config("m1", "r1"), NEW)
    with pytest.raises(StaleRevision):
        b.put_mapping("m2", config("m2", "r1"), NEW)
    with pytest.raises(StaleRevision):  # a uuid is new once
        b.put_mapping("m1", config("m1", "r9", function="g"), NEW)
    b.put_mapping("m2", config("m2", "r1", function="g"), NEW)  # another function: fine
    assert [found["UUID"] for found in a.mappings()] == ["m1", "m2"]


def test_a_deleted_pair_can_be_mapped_again_and_order_is_creation_order(
    nodes: tuple[RedisMappingStore, ...],
) -> None:
    a, b = nodes
    for uuid, function in (("m1", "f"), ("m2", "g"), ("m3", "h")):
        a.put_mapping(uuid, config(uuid, "r1", function=function), NEW)
    b.put_mapping("m1", config("m1", "r2", BatchSize=3), "r1")  # a change keeps its place
    a.delete_mapping("m2")
    b.put_mapping("m4", config("m4", "r1", function="g"), NEW)
    assert [(found["UUID"], found.get("BatchSize")) for found in b.mappings()] == [
        ("m1", 3),
        ("m3", None),
        ("m4", None),
    ]
    assert a.get_mapping("m2") is None


def test_a_delete_drops_the_checkpoints_and_every_write_is_announced(
    nodes: tuple[RedisMappingStore, ...], redis_server: RedisServer
) -> None:
    a, _ = nodes
    client = redis.Redis.from_url(redis_server.url)
    listener = client.pubsub()
    listener.subscribe(ClusterLink.scoped(SCOPE, "changes"))
    assert listener.get_message(timeout=1)["type"] == "subscribe"
    a.put_mapping("m1", config("m1", "r1"), NEW)
    client.hset(checkpoints_key(SCOPE, "m1"), "shardId-000000000000", "49")
    a.delete_mapping("m1")
    heard = [json.loads(listener.get_message(timeout=1)["data"]) for _ in range(2)]
    assert heard == [{"node": "a", "concern": "mappings", "function": "m1"}] * 2
    assert client.exists(checkpoints_key(SCOPE, "m1")) == 0
    assert a.mappings() == []
    listener.close()
    client.close()
