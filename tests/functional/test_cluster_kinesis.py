"""The Kinesis API tests of ``test_sqs_kinesis.py`` against a node of a cluster, whose streams
are in Redis (``cluster/redis_stream_store.py``): the same answers as one node's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FlareServer
from tests.functional.test_sqs_kinesis import (  # noqa: F401 (collected here, on a cluster node)
    kinesis,
    test_a_request_outside_kinesis_model_is_its_validation_exception,
    test_bad_shard_iterator_is_invalid_argument,
    test_describe_list_and_delete_streams,
    test_partition_key_routes_by_md5_hash_range,
    test_records_spread_over_shards_and_keep_per_shard_order,
    test_shard_iterator_types,
)
from tests.redis_server import available, one_cluster_node

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")


@pytest.fixture(scope="module")
def flare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    """One node of a cluster (``--cluster``), its streams in a Redis of its own."""
    with one_cluster_node(tmp_path_factory.mktemp("cluster-kinesis")) as node:
        yield node
