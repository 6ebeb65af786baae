"""The events of a durable execution's history that are not an operation's (those are
``operations``'), pure: ExecutionStarted, InvocationCompleted, and the execution's end
(ExecutionSucceeded / Failed / TimedOut / Stopped); and what an update of the EXECUTION
operation itself asks for (its end)."""

from __future__ import annotations

import json
from typing import Any

from flare.durable import wire
from flare.durable.status import Status
from flare.errors import InvalidParameterValue
from flare.store.durable import ExecutionRow

Finish = tuple[Status, str | None, dict[str, Any] | None]
"""How an execution ends: its status, its result, its error."""


def execution_end(update: dict[str, Any]) -> Finish:
    if update.get("Action") == "SUCCEED":
        return Status.SUCCEEDED, update.get("Payload"), None
    if update.get("Action") == "FAIL":
        return Status.FAILED, None, update.get("Error") or {}
    raise InvalidParameterValue(f"Invalid action {update.get('Action')} for EXECUTION operation.")


def invocation_completed(
    row: ExecutionRow, began: float, now: float, request_id: str, outcome: wire.Outcome
) -> dict[str, Any]:
    """InvocationCompleted: one invocation of the execution ended (as reported)."""
    details: dict[str, Any] = {"StartTimestamp": began, "EndTimestamp": now, "RequestId": request_id}
    if outcome.reported is wire.Reported.INVOCATION_ERROR and outcome.error is not None:
        details["Error"] = {"Payload": outcome.error, "Truncated": False}
    return {
        "EventType": "InvocationCompleted",
        "Id": wire.invocation_id_of(row.arn),
        "EventTimestamp": now,
        "InvocationCompletedDetails": details,
    }


def execution_started(row: ExecutionRow, timeout: int) -> dict[str, Any]:
    return {
        "EventType": "ExecutionStarted",
        "Id": wire.invocation_id_of(row.arn),
        "Name": row.name,
        "EventTimestamp": row.started,
        "ExecutionStartedDetails": {
            "Input": {"Payload": row.input, "Truncated": False},
            "ExecutionTimeout": timeout,
        },
    }


def execution_ended(row: ExecutionRow, now: float) -> dict[str, Any]:
    kind = {"SUCCEEDED": "Succeeded", "FAILED": "Failed", "TIMED_OUT": "TimedOut", "STOPPED": "Stopped"}[
        row.status
    ]
    details: dict[str, Any] = {}
    if row.result is not None:
        details["Result"] = {"Payload": row.result, "Truncated": False}
    if row.error is not None:
        details["Error"] = {"Payload": json.loads(row.error), "Truncated": False}
    return {
        "EventType": f"Execution{kind}",
        "Id": wire.invocation_id_of(row.arn),
        "Name": row.name,
        "EventTimestamp": now,
        f"Execution{kind}Details": details,
    }
