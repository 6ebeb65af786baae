"""The async invocation tests of ``test_async_invoke.py`` against a node of a cluster: the same
answers, retries, destinations and dead-letter queues when the events wait in Redis
(``cluster/redis_event_queue.py``) instead of the node's SQLite database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FlareServer
from tests.functional.test_async_invoke import (  # noqa: F401 (collected here, on a cluster node)
    BASE_DELAY,
    lam,
    sqs,
    test_alias_invoke_uses_the_alias_config_and_arn,
    test_config_of_a_deleted_function_goes_with_it,
    test_dead_letter_queue_gets_original_payload_with_error_attributes,
    test_dlq_and_on_failure_both_receive,
    test_event_invoke_answers_202_and_on_success_gets_the_record,
    test_event_invoke_of_missing_function_is_404,
    test_function_error_is_retried_twice_after_base_and_twice_base,
    test_lambda_destination_is_invoked_with_the_record,
    test_maximum_retry_attempts_zero_gives_up_after_one_try,
    test_payload_over_one_megabyte_is_413,
    test_reserved_concurrency_zero_goes_straight_to_failure_handling,
    test_throttled_events_wait_and_all_succeed,
)
from tests.redis_server import available, one_cluster_node

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    """One node of a cluster (``--cluster``), its events in a Redis of its own."""
    directory = tmp_path_factory.mktemp("cluster-async")
    with one_cluster_node(directory, "--async-retry-base-delay", str(BASE_DELAY)) as node:
        yield node
