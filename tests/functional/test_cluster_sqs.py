"""The SQS API tests of ``test_sqs_kinesis.py`` against a node of a cluster, whose queues are
in Redis (``cluster/redis_queue_store.py``): the same answers as one node's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FlareServer
from tests.functional.test_sqs_kinesis import (  # noqa: F401 (collected here, on a cluster node)
    sqs,
    test_an_unreceived_visibility_timeout_returns_the_message,
    test_attribute_counts_follow_sends_receives_and_delays,
    test_batch_send_receive_change_and_delete,
    test_batch_with_too_many_or_duplicate_entries_is_refused,
    test_change_message_visibility_zero_returns_the_message_now,
    test_create_queue_is_idempotent_and_conflicts_on_different_attributes,
    test_long_poll_wakes_early_when_a_message_is_sent,
    test_long_poll_with_nothing_sent_ends_after_its_wait,
    test_message_moves_to_dead_letter_queue_after_max_receive_count,
    test_queue_urls_name_the_flare_endpoint_account_and_queue,
    test_send_receive_delete_round_trip_with_digests_and_attributes,
    test_set_attributes_list_by_prefix_tags_and_delete,
    test_unknown_queue_is_reported_with_sqs_error_code,
)
from tests.redis_server import available, one_cluster_node

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")


@pytest.fixture(scope="module")
def flare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    """One node of a cluster (``--cluster``), its queues in a Redis of its own."""
    with one_cluster_node(tmp_path_factory.mktemp("cluster-sqs")) as node:
        yield node
