"""A durable execution's ``Status``: an enum and its one transition table.

::

    RUNNING -> SUCCEEDED   the handler returned (or checkpointed the EXECUTION's SUCCEED)
    RUNNING -> FAILED      the handler raised (or checkpointed the EXECUTION's FAIL)
    RUNNING -> TIMED_OUT   DurableConfig.ExecutionTimeout passed on the engine's clock
    RUNNING -> STOPPED     StopDurableExecution
    RUNNING -> PAUSING     PauseDurableExecution while an invocation is in flight
    RUNNING -> PAUSED      PauseDurableExecution with none in flight
    PAUSING -> PAUSED      the invocation checkpointed (its token withdrawn) or ended
    PAUSING -> RUNNING     ResumeDurableExecution cancels the pause
    PAUSING -> SUCCEEDED | FAILED | TIMED_OUT | STOPPED    as from RUNNING
    PAUSED  -> RUNNING     ResumeDurableExecution
    PAUSED  -> TIMED_OUT   its timeout (not paused with it, or 366 days after the start)
    PAUSED  -> STOPPED     StopDurableExecution
    PAUSED  -> SUCCEEDED | FAILED    the invocation the pause cut short still finished

The model's DELETING is never seen: DeleteDurableExecution removes an ended execution in one
transaction. The ended states are final.
"""

from __future__ import annotations

import enum

from flare.errors import IllegalTransition


class Status(enum.StrEnum):
    RUNNING = "RUNNING"
    PAUSING = "PAUSING"
    PAUSED = "PAUSED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"


_ENDS = frozenset({Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.STOPPED})
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.RUNNING: _ENDS | {Status.PAUSING, Status.PAUSED},
    Status.PAUSING: _ENDS | {Status.PAUSED, Status.RUNNING},
    Status.PAUSED: _ENDS | {Status.RUNNING},
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.TIMED_OUT: frozenset(),
    Status.STOPPED: frozenset(),
}
LIVE = (Status.RUNNING, Status.PAUSING, Status.PAUSED)


def move(current: Status, to: Status) -> Status:
    """``to``, if the table allows it from ``current``; else IllegalTransition."""
    if to not in ALLOWED[current]:
        raise IllegalTransition(current, to)
    return to


def ended(status: str) -> bool:
    """Whether ``status`` is final (SUCCEEDED, FAILED, TIMED_OUT, STOPPED)."""
    return status in _ENDS
