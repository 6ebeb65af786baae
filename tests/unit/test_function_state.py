"""A function version's State and LastUpdateStatus (control/function_state.py)."""

from __future__ import annotations

import pytest

from flare.control import function_state
from flare.control.function_state import State, UpdateStatus, move
from flare.errors import IllegalTransition, ResourceConflict, SnapStartNotReady

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


@pytest.mark.parametrize(
    ("current", "to", "allowed"),
    [
        (State.PENDING, State.ACTIVE, True),
        (State.PENDING, State.FAILED, True),
        (State.ACTIVE, State.PENDING, False),
        (State.ACTIVE, State.INACTIVE, True),
        (State.INACTIVE, State.PENDING, True),
        (State.FAILED, State.ACTIVE, False),
        (UpdateStatus.IN_PROGRESS, UpdateStatus.SUCCESSFUL, True),
        (UpdateStatus.IN_PROGRESS, UpdateStatus.IN_PROGRESS, False),
        (UpdateStatus.SUCCESSFUL, UpdateStatus.IN_PROGRESS, True),
        (UpdateStatus.FAILED, UpdateStatus.SUCCESSFUL, False),
    ],
)
def test_moves_follow_the_transition_table(current: State, to: State, allowed: bool) -> None:
    if allowed:
        assert move(current, to) is to
    else:
        with pytest.raises(IllegalTransition):
            move(current, to)


def test_creation_is_pending_then_settles_active_and_successful() -> None:
    created = function_state.created(
        {"FunctionName": "fn", "State": "Active", "LastUpdateStatus": "Successful"}
    )
    assert created == {
        "FunctionName": "fn",
        "State": "Pending",
        "StateReason": "The function is being created.",
        "StateReasonCode": "Creating",
    }
    assert function_state.unsettled(created)
    settled = function_state.settled(created)
    assert settled == {"FunctionName": "fn", "State": "Active", "LastUpdateStatus": "Successful"}
    assert not function_state.unsettled(settled)


def test_an_update_is_in_progress_then_successful_and_keeps_the_state() -> None:
    updating = function_state.updating({"State": "Active", "LastUpdateStatus": "Successful"})
    assert updating == {
        "State": "Active",
        "LastUpdateStatus": "InProgress",
        "LastUpdateStatusReason": "The function is being created.",
        "LastUpdateStatusReasonCode": "Creating",
    }
    assert function_state.settled(updating) == {"State": "Active", "LastUpdateStatus": "Successful"}
    with pytest.raises(IllegalTransition):
        function_state.updating(updating)


def test_a_snapshot_in_the_making_is_not_settled_by_the_clock() -> None:
    pending = function_state.snapshotting({"State": "Active", "LastUpdateStatus": "Successful"})
    assert pending["State"] == "Pending" and pending["StateReasonCode"] == "Creating"
    assert function_state.settled(pending) == pending


@pytest.mark.parametrize(
    ("state", "snap_start", "error", "message"),
    [
        ("Active", False, None, ""),
        ("Pending", True, SnapStartNotReady, "SnapStart snapshot"),
        ("Pending", False, ResourceConflict, "currently in the following state: Pending"),
        ("Failed", True, ResourceConflict, "currently in the following state: Failed"),
        ("Inactive", False, ResourceConflict, "currently in the following state: Inactive"),
    ],
)
def test_invokes_are_refused_as_aws_refuses_them(
    state: str, snap_start: bool, error: type[Exception] | None, message: str
) -> None:
    refusal = function_state.invoke_refusal(state, snap_start)
    if error is None:
        assert refusal is None
    else:
        assert isinstance(refusal, error)
        assert message in refusal.message


def test_an_update_is_refused_while_one_is_in_progress_or_the_function_is_being_created() -> None:
    message = f"The operation cannot be performed at this time. An update is in progress for resource: {ARN}"
    in_progress = function_state.updating({"State": "Active", "LastUpdateStatus": "Successful"})
    refusal = function_state.update_refusal(in_progress, ARN)
    assert isinstance(refusal, ResourceConflict) and refusal.message == message
    assert str(function_state.update_refusal(function_state.created({}), ARN)) == message
    assert function_state.update_refusal({"State": "Active", "LastUpdateStatus": "Successful"}, ARN) is None
