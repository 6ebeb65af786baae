"""The durable-function tests of one node (``test_durable.py``, ``test_durable_controls.py``,
``test_durable_invokes.py``) run again against a node of a cluster: the same answers, timers,
pauses, callbacks, chained invokes and limits when executions, their operations and history are
in Redis (``cluster/redis_durable.py``) and each has a home (``cluster/durable_homes.py``)
instead of the node's SQLite. The tests that restart an engine on its own data dir, or need the
SDK's cloud runner, stay single-node, and so do three slow ones whose subject is not where
executions are stored (the SDK's step backoff, wait-for-condition polling, the async queue's
backoff after a throttle: ~13 s, kept out so that `make test` stays under 15 minutes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FlareServer
from tests.functional.test_durable import (  # noqa: F401 (collected here, on a cluster node)
    test_a_callback_answered_without_a_result_gives_the_handler_none,
    test_a_callback_without_its_heartbeat_times_out_and_the_handler_sees_it,
    test_a_chained_invoke_runs_a_plain_function_and_a_durable_one_as_its_own_execution,
    test_a_handler_of_two_steps_runs_to_succeeded_with_its_result,
    test_a_stopped_execution_is_never_woken_and_a_deleted_function_takes_its_executions,
    test_a_wait_of_thirty_days_ends_when_the_engines_clock_passes_it,
    test_an_ended_execution_is_deleted_after_its_retention_period,
    test_an_execution_name_the_model_refuses_is_a_validation_error,
    test_an_execution_named_twice_runs_once_and_another_payload_under_its_name_is_refused,
    test_an_invocation_is_told_which_operations_changed_while_its_execution_was_suspended,
    test_an_invocation_that_crashes_is_retried_and_the_execution_continues_from_its_checkpoints,
    test_durable_config_is_kept_with_lambdas_default_retention_and_shown_in_every_configuration,
    test_durable_execution_cannot_be_enabled_on_an_existing_function,
    test_flare_durable_lists_shows_tells_the_history_of_pauses_resumes_stops_and_deletes_an_execution,
    test_map_over_fifty_items_and_parallel_branches_around_a_wait_complete,
    test_two_steps_a_thirty_day_wait_and_a_callback_complete_when_the_callback_is_sent,
)
from tests.functional.test_durable_controls import (  # noqa: F401 (collected here, on a cluster node)
    test_a_checkpoint_retried_with_its_client_token_is_answered_again_and_payloads_have_awss_limits,
    test_a_pause_during_an_invocation_takes_effect_at_its_next_checkpoint,
    test_a_pause_holds_the_executions_timeout_unless_asked_not_to,
    test_a_paused_execution_is_not_invoked_when_its_wait_ends_and_resuming_invokes_it,
    test_an_ended_execution_is_deleted_with_its_history,
    test_pause_and_resume_refuse_an_execution_in_the_wrong_status_and_a_client_token_repeats_once,
)
from tests.functional.test_durable_invokes import (  # noqa: F401 (collected here, on a cluster node)
    test_a_chained_invoke_of_a_durable_target_that_times_out_or_is_stopped_ends_as_its_target,
    test_a_chained_invoke_runs_its_target_for_the_tenant_it_names,
    test_a_synchronous_invoke_gives_up_after_the_functions_timeout_and_the_execution_runs_on,
    test_an_event_invoke_of_a_durable_function_throttled_to_zero_fails_its_execution_to_on_failure,
)
from tests.redis_server import available, one_cluster_node

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    """One node of a cluster (a Redis of its own) whose clock the tests move ahead."""
    with one_cluster_node(tmp_path_factory.mktemp("cluster-durable"), "--test-clock") as node:
        yield node


@pytest.fixture(scope="module")
def flare(timed: FlareServer) -> FlareServer:
    return timed
