"""Pausing a durable execution (PauseDurableExecution / ResumeDurableExecution), pure: the pause
kept on the execution while it is PAUSING or PAUSED, its history events, and the timeout's
arithmetic.

A pause is a dict stored as JSON on the execution (``ExecutionRow.paused``)::

    PauseRequestTimestamp   when it was asked for (epoch seconds)
    Reason                  the caller's reason, if any
    ExecutionTimeoutPaused  whether the execution's timeout stops while it is paused (default true)
    _PausedAt               when it became PAUSED (None while PAUSING)
    _Owed                   whether resuming must invoke: the pause cut an invocation short, or
                            an operation completed (a wait, a callback...) while it was paused

While PAUSED with its timeout paused, the execution times out only ``MAX_LIFE_S`` (366 days)
after its start; resuming moves its deadline on by the time it spent paused, never past that.
"""

from __future__ import annotations

import json
from typing import Any

from flare.durable.records import Event
from flare.store.durable import ExecutionRow

MAX_LIFE_S = 366 * 86400  # the longest an execution lives, paused or not
PAUSED_AT = "_PausedAt"
OWED = "_Owed"
Pause = dict[str, Any]


def new(now: float, reason: str | None, timeout_paused: bool | None) -> Pause:
    """The pause asked for at ``now`` (not yet PAUSED)."""
    pause: Pause = {
        "PauseRequestTimestamp": now,
        "ExecutionTimeoutPaused": True if timeout_paused is None else bool(timeout_paused),
        PAUSED_AT: None,
        OWED: False,
    }
    if reason is not None:
        pause["Reason"] = reason
    return pause


def of(row: ExecutionRow) -> Pause | None:
    return None if row.paused is None else dict(json.loads(row.paused))


def stored(pause: Pause | None) -> str | None:
    return None if pause is None else json.dumps(pause)


def owe(pause: Pause) -> Pause:
    """``pause`` with an invocation owed on resume."""
    return pause | {OWED: True}


def deadline(row: ExecutionRow, pause: Pause | None) -> float:
    """When ``row`` times out as things stand: its deadline, or, PAUSED with the timeout
    paused, ``MAX_LIFE_S`` after its start."""
    if pause is not None and pause.get(PAUSED_AT) is not None and pause["ExecutionTimeoutPaused"]:
        return row.started + MAX_LIFE_S
    return row.deadline


def resumed_deadline(row: ExecutionRow, pause: Pause, now: float) -> float:
    """``row``'s deadline once resumed at ``now``: moved on by the time spent paused when the
    timeout was paused, never past ``MAX_LIFE_S`` after the start."""
    paused_at = pause.get(PAUSED_AT)
    if paused_at is None or not pause["ExecutionTimeoutPaused"]:
        return row.deadline
    return min(row.deadline + (now - float(paused_at)), row.started + MAX_LIFE_S)


def details(pause: Pause, include_data: bool = True) -> dict[str, Any]:
    """GetDurableExecution's ``PauseDetails`` (the reason only with the execution's data)."""
    shown = {key: value for key, value in pause.items() if not key.startswith("_")}
    if not include_data:
        shown.pop("Reason", None)
    return shown


def paused_event(row: ExecutionRow, pause: Pause, now: float) -> Event:
    """ExecutionPaused: ``row`` stopped being invoked at ``now``."""
    details: dict[str, Any] = {
        "PauseRequestTimestamp": pause["PauseRequestTimestamp"],
        "ExecutionTimeoutPaused": pause["ExecutionTimeoutPaused"],
    }
    if "Reason" in pause:
        details["Reason"] = {"Payload": pause["Reason"], "Truncated": False}
    return _event(row, "ExecutionPaused", details, now)


def resumed_event(row: ExecutionRow, reason: str | None, now: float) -> Event:
    details: dict[str, Any] = {"ResumeRequestTimestamp": now}
    if reason is not None:
        details["Reason"] = {"Payload": reason, "Truncated": False}
    return _event(row, "ExecutionResumed", details, now)


def _event(row: ExecutionRow, kind: str, details: dict[str, Any], now: float) -> Event:
    return {
        "EventType": kind,
        "Id": row.arn.rsplit("/", 1)[-1],
        "Name": row.name,
        "EventTimestamp": now,
        f"{kind}Details": details,
    }
