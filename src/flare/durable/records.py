"""The dict shapes of durable executions' operations and history events, as the API carries
them, and the history event an operation's change makes. Pure."""

from __future__ import annotations

from typing import Any

Operation = dict[str, Any]
Event = dict[str, Any]


def operation_event(operation: Operation, kind: str, details: dict[str, Any], now: float) -> Event:
    """The history event ``kind`` (e.g. ``StepSucceeded``) of ``operation`` at ``now``: its id,
    its ``SubType``, ``Name`` and ``ParentId`` when it has them, and ``<kind>Details``."""
    event: Event = {"EventType": kind, "Id": operation["Id"], "EventTimestamp": now}
    for member in ("SubType", "Name", "ParentId"):
        if operation.get(member) is not None:
            event[member] = operation[member]
    event[f"{kind}Details"] = details
    return event
