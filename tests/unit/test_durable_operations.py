"""The checkpoint protocol's pure rules (flare.durable.operations) and the execution's table."""

from __future__ import annotations

import pytest

from flare.durable import callbacks, chained, operations
from flare.durable.status import Status, move
from flare.errors import IllegalTransition, InvalidParameterValue


def update(kind: str, action: str, **extra: object) -> dict[str, object]:
    return {"Id": "op1", "Type": kind, "Action": action, "Name": "n", **extra}


def test_a_step_starts_then_succeeds_on_its_first_attempt_with_its_result() -> None:
    started, event = operations.apply(update("STEP", "START"), None, 100.0)
    assert (started["Status"], started["StepDetails"]["Attempt"], event["EventType"]) == (
        "STARTED",
        0,
        "StepStarted",
    )
    done, event = operations.apply(update("STEP", "SUCCEED", Payload='"r"'), started, 101.0)
    assert done["Status"] == "SUCCEEDED" and done["EndTimestamp"] == 101.0 and done["StartTimestamp"] == 100.0
    assert done["StepDetails"] == {"Attempt": 1, "Result": '"r"'}
    assert event["StepSucceededDetails"] == {
        "Result": {"Payload": '"r"', "Truncated": False},
        "RetryDetails": {"CurrentAttempt": 1},
    }


def test_a_retried_step_is_pending_until_its_next_attempt_then_ready() -> None:
    started, _ = operations.apply(update("STEP", "START"), None, 0.0)
    retry = update("STEP", "RETRY", StepOptions={"NextAttemptDelaySeconds": 5}, Error={"ErrorMessage": "x"})
    pending, event = operations.apply(retry, started, 10.0)
    assert (pending["Status"], operations.due(pending)) == ("PENDING", 15.0)
    assert event["StepFailedDetails"]["RetryDetails"] == {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 5}
    ready, no_event = operations.wake(pending, 15.0)
    assert (ready["Status"], no_event, operations.due(ready)) == ("READY", None, None)


def test_a_wait_is_due_at_its_scheduled_end_and_succeeds_when_woken() -> None:
    waiting, event = operations.apply(update("WAIT", "START", WaitOptions={"WaitSeconds": 86400}), None, 50.0)
    assert operations.due(waiting) == 86450.0
    assert event["WaitStartedDetails"] == {"Duration": 86400, "ScheduledEndTimestamp": 86450.0}
    woken, succeeded = operations.wake(waiting, 86450.0)
    assert woken["Status"] == "SUCCEEDED" and succeeded is not None
    assert succeeded["WaitSucceededDetails"] == {"Duration": 86400}


@pytest.mark.parametrize(
    ("kind", "action"),
    [("WAIT", "SUCCEED"), ("STEP", "CANCEL"), ("CALLBACK", "SUCCEED"), ("CHAINED_INVOKE", "SUCCEED")],
)
def test_an_action_the_type_does_not_take_is_refused(kind: str, action: str) -> None:
    with pytest.raises(InvalidParameterValue):
        operations.apply(update(kind, action), None, 0.0)


def test_an_operation_that_ended_takes_no_further_update() -> None:
    done, _ = operations.apply(update("STEP", "SUCCEED", Payload="1"), None, 0.0)
    with pytest.raises(InvalidParameterValue, match="already ended"):
        operations.apply(update("STEP", "FAIL"), done, 1.0)


def test_an_execution_ends_once_and_only_from_running() -> None:
    assert move(Status.RUNNING, Status.STOPPED) is Status.STOPPED
    with pytest.raises(IllegalTransition):
        move(Status.SUCCEEDED, Status.FAILED)


def test_a_callback_times_out_at_its_timeout_or_without_its_heartbeat_whichever_comes_first() -> None:
    options = {"TimeoutSeconds": 1000, "HeartbeatTimeoutSeconds": 100}
    waiting, event = operations.apply(
        update("CALLBACK", "START", CallbackOptions=options), None, 0.0, "arn:x"
    )
    assert event["CallbackStartedDetails"] == {
        "CallbackId": callbacks.callback_id("arn:x", "op1"),
        "Timeout": 1000,
        "HeartbeatTimeout": 100,
    }
    assert callbacks.parse_callback_id(waiting["CallbackDetails"]["CallbackId"]) == ("arn:x", "op1")
    assert callbacks.public(waiting).keys() == {
        "Id",
        "Type",
        "Name",
        "StartTimestamp",
        "Status",
        "CallbackDetails",
    }
    assert operations.due(waiting) == 100.0
    beating = callbacks.heartbeat(waiting, 950.0)
    assert operations.due(beating) == 1000.0
    timed_out, timed_out_event = operations.wake(beating, 1000.0)
    assert timed_out_event is not None
    assert (timed_out["Status"], timed_out_event["EventType"]) == ("TIMED_OUT", "CallbackTimedOut")


def test_a_callback_answered_succeeds_with_its_result_or_fails_with_its_error() -> None:
    waiting, _ = operations.apply(update("CALLBACK", "START"), None, 0.0, "arn:x")
    assert operations.due(waiting) is None
    done, event = callbacks.answer(waiting, "yes", None, 5.0)
    assert (done["Status"], done["CallbackDetails"]["Result"], event["EventType"]) == (
        "SUCCEEDED",
        "yes",
        "CallbackSucceeded",
    )
    failed, event = callbacks.answer(waiting, None, {"ErrorMessage": "no"}, 5.0)
    assert (failed["Status"], event["EventType"]) == ("FAILED", "CallbackFailed")
    with pytest.raises(InvalidParameterValue):
        callbacks.waiting(done, "id")


def test_a_chained_invoke_keeps_its_target_out_of_sight_and_ends_with_its_answer() -> None:
    options = {"FunctionName": "orders:live"}
    started, event = operations.apply(
        update("CHAINED_INVOKE", "START", Payload='{"a": 1}', ChainedInvokeOptions=options), None, 0.0
    )
    assert event["EventType"] == "ChainedInvokeStarted"
    assert event["ChainedInvokeStartedDetails"]["FunctionName"] == "orders:live"
    assert chained.pending(started) and (started[chained.TARGET], started[chained.INPUT]) == (
        "orders:live",
        '{"a": 1}',
    )
    assert chained.TARGET not in callbacks.public(started)
    done, event = chained.finish(started, chained.Answer("SUCCEEDED", '{"ok": true}'), 3.0)
    assert (done["Status"], done["ChainedInvokeDetails"], event["EventType"]) == (
        "SUCCEEDED",
        {"Result": '{"ok": true}'},
        "ChainedInvokeSucceeded",
    )
    assert not chained.pending(done)
