"""The Kinesis event source mapping tests of ``test_event_sources.py`` against a node of a
cluster: streams in Redis (``cluster/redis_stream_store.py``), each shard polled under the
node's lease with checkpoints in Redis (``cluster/redis_shard_leases.py``), with the same
results as on one node."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FlareServer
from tests.functional.test_event_sources import (  # noqa: F401 (collected here, on a cluster node)
    kinesis,
    lam,
    sqs,
    test_bisect_isolates_the_poison_record,
    test_failing_batch_blocks_shard_until_retries_run_out,
    test_kinesis_mapping_delivers_in_shard_order,
    test_latest_starting_position_skips_earlier_records,
    test_parallelization_keeps_order_per_partition_key,
    test_record_data_is_base64_of_what_was_put,
    test_report_batch_item_failures_retries_from_the_lowest_reported,
    test_tumbling_windows_carry_state_to_a_final_invoke,
)
from tests.redis_server import available, one_cluster_node

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    """One node of a cluster (``--cluster``), its streams and shard leases in a Redis of its own."""
    with one_cluster_node(tmp_path_factory.mktemp("cluster-stream-esm"), "--cluster-ttl", "2") as node:
        yield node
