"""The checkpoint protocol's rules, pure: an ``OperationUpdate`` applied to the operation it
names gives the new ``Operation`` and the history ``Event`` it records.

Operations and events are dicts in the API's own shape (botocore's ``Operation`` and ``Event``;
timestamps in epoch seconds). The rules, per type and action (anything else is refused with
InvalidParameterValue, as the service refuses it)::

    STEP     START   -> STARTED                              StepStarted
             RETRY   -> PENDING, Attempt + 1, NextAttemptTimestamp = now + NextAttemptDelaySeconds
                                                             StepFailed (with its RetryDetails);
                        StepSucceeded when it carries a Payload and no Error (a
                        wait_for_condition's state before its next poll, as AWS records it)
             SUCCEED -> SUCCEEDED, Attempt + 1, Result       StepSucceeded
             FAIL    -> FAILED, Attempt + 1, Error           StepFailed
    WAIT     START   -> STARTED, ScheduledEndTimestamp = now + WaitSeconds       WaitStarted
             CANCEL  -> CANCELLED                            WaitCancelled
    CONTEXT  START   -> STARTED                              ContextStarted
             SUCCEED -> SUCCEEDED, Result                    ContextSucceeded
             FAIL    -> FAILED, Error                        ContextFailed
    CALLBACK START   -> STARTED, CallbackId (``callbacks``)  CallbackStarted
    CHAINED_INVOKE START -> STARTED, its target (``chained``)  ChainedInvokeStarted

An operation that has ended (SUCCEEDED, FAILED, CANCELLED...) takes no further update. The
EXECUTION's own SUCCEED / FAIL ends the execution (``executions``), not an operation. ``wake``
is what the engine does when a wait's, a retry's or a callback's time comes: the wait
SUCCEEDED (WaitSucceeded), the step READY, the callback TIMED_OUT (CallbackTimedOut).
"""

from __future__ import annotations

from typing import Any

from flare.durable import callbacks, chained
from flare.durable.records import Event, Operation, operation_event
from flare.errors import InvalidParameterValue

ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"})
_ACTIONS = {
    "STEP": {"START", "RETRY", "SUCCEED", "FAIL"},
    "WAIT": {"START", "CANCEL"},
    "CONTEXT": {"START", "SUCCEED", "FAIL"},
    "CALLBACK": {"START"},
    "CHAINED_INVOKE": {"START"},
}
_STATUS = {
    "START": "STARTED",
    "RETRY": "PENDING",
    "SUCCEED": "SUCCEEDED",
    "FAIL": "FAILED",
    "CANCEL": "CANCELLED",
}
_EVENT = {
    "START": "Started",
    "RETRY": "Failed",
    "SUCCEED": "Succeeded",
    "FAIL": "Failed",
    "CANCEL": "Cancelled",
}


def check(update: dict[str, Any], current: Operation | None) -> None:
    """Raise InvalidParameterValue unless ``update`` may apply to ``current`` (None: new)."""
    kind, action = update.get("Type"), update.get("Action")
    if kind not in _ACTIONS or action not in _ACTIONS[kind]:
        raise InvalidParameterValue(f"Invalid action {action} for {kind} operation {update.get('Id')}.")
    if current is None and action not in ("START", "SUCCEED", "FAIL", "RETRY"):
        raise InvalidParameterValue(f"Operation {update.get('Id')} does not exist.")
    if current is not None and current["Status"] in ENDED:
        raise InvalidParameterValue(f"Operation {update['Id']} has already ended ({current['Status']}).")
    if current is not None and current["Type"] != kind:
        raise InvalidParameterValue(f"Operation {update['Id']} is a {current['Type']}, not a {kind}.")


def apply(
    update: dict[str, Any], current: Operation | None, now: float, arn: str = ""
) -> tuple[Operation, Event]:
    """The operation ``update`` makes of ``current`` at ``now`` in execution ``arn``, and its
    history event. Raises InvalidParameterValue (``check``)."""
    check(update, current)
    kind, action = update["Type"], update["Action"]
    operation: Operation = dict(current) if current is not None else _new(update, now)
    operation["Status"] = _STATUS[action]
    if operation["Status"] in ENDED:
        operation["EndTimestamp"] = now
    details: dict[str, Any] = {}
    if kind == "STEP":
        details = _step(operation, update, action, now)
    elif kind == "WAIT" and action == "START":
        seconds = int((update.get("WaitOptions") or {}).get("WaitSeconds") or 0)
        operation["WaitDetails"] = {"ScheduledEndTimestamp": now + seconds}
        details = {"Duration": seconds, "ScheduledEndTimestamp": now + seconds}
    elif kind == "CONTEXT" and action != "START":
        operation["ContextDetails"] = _outcome(update) | {
            "ReplayChildren": bool((update.get("ContextOptions") or {}).get("ReplayChildren"))
        }
        details = _event_outcome(update)
    elif kind == "CALLBACK":
        details = callbacks.start(operation, update, arn, now)
    elif kind == "CHAINED_INVOKE":
        details = chained.start(operation, update)
    event_kind = "ChainedInvoke" if kind == "CHAINED_INVOKE" else kind.title()
    outcome = _EVENT[action]
    if action == "RETRY" and update.get("Error") is None and update.get("Payload") is not None:
        outcome = "Succeeded"  # a wait_for_condition's check: its state, then the next poll
    return operation, operation_event(operation, f"{event_kind}{outcome}", details, now)


def _new(update: dict[str, Any], now: float) -> Operation:
    operation: Operation = {"Id": update["Id"], "Type": update["Type"], "StartTimestamp": now}
    for member in ("ParentId", "Name", "SubType"):
        if update.get(member) is not None:
            operation[member] = update[member]
    return operation


def _step(operation: Operation, update: dict[str, Any], action: str, now: float) -> dict[str, Any]:
    """The step's details after ``action``, and its event's: every StepSucceeded and StepFailed
    carries ``RetryDetails`` with the attempt it ended (the model requires them), a RETRY's
    also the delay; StepSucceeded always has a ``Result`` (empty without a payload)."""
    previous = operation.get("StepDetails") or {}
    attempt = int(previous.get("Attempt", 0)) + (action != "START")
    step: dict[str, Any] = {"Attempt": attempt}
    step |= _outcome(update)
    operation["StepDetails"] = step
    if action == "START":
        return {}
    retry: dict[str, Any] = {"CurrentAttempt": attempt}
    if action == "RETRY":
        delay = int((update.get("StepOptions") or {}).get("NextAttemptDelaySeconds") or 0)
        step["NextAttemptTimestamp"] = now + delay
        retry["NextAttemptDelaySeconds"] = delay
    ended: dict[str, Any] = {"Result": {}} if action == "SUCCEED" else {}
    return {"RetryDetails": retry} | ended | _event_outcome(update)


def _outcome(update: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if update.get("Payload") is not None:
        found["Result"] = update["Payload"]
    if update.get("Error") is not None:
        found["Error"] = update["Error"]
    return found


def _event_outcome(update: dict[str, Any]) -> dict[str, Any]:
    if update.get("Error") is not None:
        return {"Error": {"Payload": update["Error"], "Truncated": False}}
    if update.get("Payload") is not None:
        return {"Result": {"Payload": update["Payload"], "Truncated": False}}
    return {}


def due(operation: Operation) -> float | None:
    """When the engine must ``wake`` ``operation``: a STARTED wait's end, a PENDING step's next
    attempt, a waiting callback's time-out; None for any other."""
    if operation["Type"] == "WAIT" and operation["Status"] == "STARTED":
        return float(operation["WaitDetails"]["ScheduledEndTimestamp"])
    if operation["Type"] == "STEP" and operation["Status"] == "PENDING":
        return float(operation["StepDetails"]["NextAttemptTimestamp"])
    if operation["Type"] == "CALLBACK":
        return callbacks.due(operation)
    return None


def wake(operation: Operation, now: float) -> tuple[Operation, Event | None]:
    """``operation`` once its time has come (``due``): a wait SUCCEEDED, with its
    WaitSucceeded event; a step READY for its next attempt (no event); a callback TIMED_OUT."""
    if operation["Type"] == "CALLBACK":
        return callbacks.time_out(operation, now)
    woken = dict(operation)
    if operation["Type"] == "WAIT":
        woken["Status"] = "SUCCEEDED"
        woken["EndTimestamp"] = now
        scheduled = float(operation["WaitDetails"]["ScheduledEndTimestamp"])
        duration = round(scheduled - float(operation["StartTimestamp"]))
        return woken, operation_event(woken, "WaitSucceeded", {"Duration": duration}, now)
    woken["Status"] = "READY"
    return woken, None
