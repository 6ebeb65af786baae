"""A function version's ``State`` and ``LastUpdateStatus``, as Lambda reports and enforces them.

Two small state machines, each an enum plus one transition table, changed only through ``move``:

``State`` (of every version)::

    Pending  -> Active | Failed        created (StateReasonCode Creating), or a SnapStart version
                                       whose snapshot is being made
    Active   -> Inactive
    Inactive -> Pending                an invoke wakes it: it is made again
    Failed   -> Pending                an update or a new snapshot tries again

``LastUpdateStatus`` (of ``$LATEST``; absent until its creation has settled)::

    InProgress -> Successful | Failed  an UpdateFunctionCode / UpdateFunctionConfiguration
    Successful -> InProgress
    Failed     -> InProgress

AWS answers CreateFunction with ``State: Pending`` (``StateReason`` "The function is being
created.", ``StateReasonCode`` Creating, no ``LastUpdateStatus``) and the updates with
``LastUpdateStatus: InProgress``; the work then settles and GetFunction shows ``Active`` /
``Successful`` (boto3's ``function_active_v2`` and ``function_updated_v2`` waiters poll for
that). Flare does a creation's and an update's work before it answers, so the registry settles
them on the engine clock's next turn: a client always sees the pending answer first and the
settled state on its next call, as on AWS when the work is quick. While a version is Pending or
an update is in progress, AWS refuses invokes and further updates with ResourceConflict;
``invoke_refusal`` and ``update_refusal`` word them. All functions here are pure.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from flare.errors import FlareError, IllegalTransition, ResourceConflict, SnapStartNotReady

CREATING_REASON = "The function is being created."
CREATING_CODE = "Creating"
SNAPSHOT_REASON = "Lambda is creating a snapshot of the initialised execution environment (SnapStart)."
_REASON_FIELDS = ("StateReason", "StateReasonCode")
_UPDATE_REASON_FIELDS = ("LastUpdateStatusReason", "LastUpdateStatusReasonCode")


class State(enum.StrEnum):
    PENDING = "Pending"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    FAILED = "Failed"


class UpdateStatus(enum.StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"


ALLOWED: dict[State | UpdateStatus, set[State | UpdateStatus]] = {
    State.PENDING: {State.ACTIVE, State.FAILED},
    State.ACTIVE: {State.INACTIVE},
    State.INACTIVE: {State.PENDING},
    State.FAILED: {State.PENDING},
    UpdateStatus.IN_PROGRESS: {UpdateStatus.SUCCESSFUL, UpdateStatus.FAILED},
    UpdateStatus.SUCCESSFUL: {UpdateStatus.IN_PROGRESS},
    UpdateStatus.FAILED: {UpdateStatus.IN_PROGRESS},
}


S = TypeVar("S", State, UpdateStatus)


def move(current: S, to: S) -> S:
    """``to``, if the table allows it from ``current``; else IllegalTransition."""
    if to not in ALLOWED[current]:
        raise IllegalTransition(current, to)
    return to


def _without(config: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in fields}


def created(config: Mapping[str, Any]) -> dict[str, Any]:
    """A new function's configuration as CreateFunction answers it: Pending, Creating."""
    fresh = _without(config, ("State", "LastUpdateStatus", *_REASON_FIELDS, *_UPDATE_REASON_FIELDS))
    return {
        **fresh,
        "State": State.PENDING.value,
        "StateReason": CREATING_REASON,
        "StateReasonCode": CREATING_CODE,
    }


def snapshotting(config: Mapping[str, Any]) -> dict[str, Any]:
    """A SnapStart version's configuration while its snapshot is made: Pending."""
    return {
        **_without(config, _REASON_FIELDS),
        "State": State.PENDING.value,
        "StateReason": SNAPSHOT_REASON,
        "StateReasonCode": CREATING_CODE,
    }


def updating(config: Mapping[str, Any]) -> dict[str, Any]:
    """``$LATEST`` as an update answers it: LastUpdateStatus InProgress.

    Raises IllegalTransition when an update is already in progress (see ``update_refusal``).
    """
    current = config.get("LastUpdateStatus")
    if current is not None:
        move(UpdateStatus(current), UpdateStatus.IN_PROGRESS)
    return {
        **config,
        "LastUpdateStatus": UpdateStatus.IN_PROGRESS.value,
        "LastUpdateStatusReason": CREATING_REASON,
        "LastUpdateStatusReasonCode": CREATING_CODE,
    }


def settled(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration once a creation's or an update's work is done: a version created
    Pending is Active, an update in progress Successful, and their reasons gone. A SnapStart
    version waiting for its snapshot is left as it is (the snapshot settles it)."""
    result = dict(config)
    if config.get("State") == State.PENDING and config.get("StateReason") == CREATING_REASON:
        result["State"] = move(State.PENDING, State.ACTIVE).value
        result = _without(result, _REASON_FIELDS)
    if config.get("LastUpdateStatus") == UpdateStatus.IN_PROGRESS:
        result["LastUpdateStatus"] = move(UpdateStatus.IN_PROGRESS, UpdateStatus.SUCCESSFUL).value
        result = _without(result, _UPDATE_REASON_FIELDS)
    elif config.get("LastUpdateStatus") is None and result.get("State") == State.ACTIVE:
        result["LastUpdateStatus"] = UpdateStatus.SUCCESSFUL.value
    return result


def unsettled(config: Mapping[str, Any]) -> bool:
    """Whether ``settled`` would change ``config``."""
    return settled(config) != dict(config)


def invoke_refusal(state: str, snap_start: bool) -> FlareError | None:
    """Why a version in ``state`` cannot be invoked now, as AWS answers it; None when it can."""
    if state == State.PENDING and snap_start:
        return SnapStartNotReady(
            "Lambda is still making the SnapStart snapshot of this version; try again soon."
        )
    if state in (State.PENDING, State.FAILED, State.INACTIVE):
        return ResourceConflict(
            "The operation cannot be performed at this time. "
            f"The function is currently in the following state: {state}"
        )
    return None


def update_refusal(config: Mapping[str, Any], arn: str) -> ResourceConflict | None:
    """Why ``$LATEST`` (``config``) cannot be updated now, as AWS answers it; None when it can."""
    if config.get("LastUpdateStatus") == UpdateStatus.IN_PROGRESS or (
        config.get("State") == State.PENDING and config.get("StateReason") == CREATING_REASON
    ):
        return ResourceConflict(
            f"The operation cannot be performed at this time. An update is in progress for resource: {arn}"
        )
    return None
