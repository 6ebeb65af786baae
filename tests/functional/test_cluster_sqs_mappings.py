"""The SQS event source mapping tests of ``test_event_sources.py`` against a node of a cluster:
its pollers read queues kept in Redis (``cluster/redis_queue_store.py``), with the same results
as on one node."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FlareServer
from tests.functional.test_event_sources import (  # noqa: F401 (collected here, on a cluster node)
    lam,
    sqs,
    test_batch_size_and_window_gather_one_batch,
    test_disable_enable_delete_states,
    test_duplicate_mapping_conflicts_and_missing_things_fail,
    test_failed_batch_reappears_after_visibility_timeout_then_redrives,
    test_maximum_concurrency_caps_concurrent_batches,
    test_report_batch_item_failures_deletes_all_but_the_reported,
    test_sqs_mapping_invokes_with_sqs_records_and_deletes_on_success,
    test_sqs_mapping_validation,
)
from tests.functional.test_event_sources import (
    test_throttled_batches_stay_in_the_queue as throttled_batches_stay_in_the_queue,
)
from tests.redis_server import available, one_cluster_node

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    """One node of a cluster (``--cluster``), its queues in a Redis of its own."""
    with one_cluster_node(tmp_path_factory.mktemp("cluster-esm")) as node:
        yield node


def test_throttled_batches_stay_in_the_queue(lam: object, sqs: object) -> None:  # noqa: F811 (the fixtures)
    """Once its reservation of 0 is deleted, the batch it throttled is delivered. (It was not:
    the shared ledger's script could not take a reservation of 0 off its total, so the delete
    failed there and the function stayed throttled on every node.)"""
    throttled_batches_stay_in_the_queue(lam, sqs)
