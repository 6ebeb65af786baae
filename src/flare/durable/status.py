"""A durable execution's ``Status``: an enum and its one transition table.

::

    RUNNING -> SUCCEEDED   the handler returned (or checkpointed the EXECUTION's SUCCEED)
    RUNNING -> FAILED      the handler raised (or checkpointed the EXECUTION's FAIL)
    RUNNING -> TIMED_OUT   DurableConfig.ExecutionTimeout passed on the engine's clock
    RUNNING -> STOPPED     StopDurableExecution

The model also names DELETING, PAUSING and PAUSED (Pause/Resume/DeleteDurableExecution), which
Flare does not run yet. The ended states are final.
"""

from __future__ import annotations

import enum

from flare.errors import IllegalTransition


class Status(enum.StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"


ALLOWED: dict[Status, frozenset[Status]] = {
    Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.STOPPED}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.TIMED_OUT: frozenset(),
    Status.STOPPED: frozenset(),
}


def move(current: Status, to: Status) -> Status:
    """``to``, if the table allows it from ``current``; else IllegalTransition."""
    if to not in ALLOWED[current]:
        raise IllegalTransition(current, to)
    return to


def ended(status: str) -> bool:
    return status != Status.RUNNING
