"""What an operator does to a durable execution: StopDurableExecution, Pause- and
ResumeDurableExecution, DeleteDurableExecution. A part of ``DurableExecutions`` (which inherits
it), kept apart for size; it reaches the execution's state through ``ExecutionHooks``.

Pausing (``pauses``): while an invocation is in flight the execution is PAUSING, and its next
checkpoint (whose updates are kept) withdraws the invocation's token, so the SDK ends it with
PENDING; the execution is then PAUSED, owing an invocation. With none in flight it is PAUSED at
once. While PAUSED, Flare invokes nothing, but waits, retries' delays, callbacks and chained
invokes still complete (each leaves an invocation owed). Resuming makes it RUNNING and invokes it
if an invocation is owed. ``ClientToken`` makes a pause or resume idempotent for 15 minutes
(``client_tokens``). Contract: used from the event loop's thread.
"""

from __future__ import annotations

from typing import Any

from flare.durable import client_tokens, limits, pauses
from flare.durable.hooks import ExecutionHooks
from flare.durable.status import Status, ended, move
from flare.durable.timers import RETRY
from flare.errors import InvalidParameterValue, ResourceConflict
from flare.store.durable import ExecutionRow

STOPPED = {"ErrorType": "Stopped", "ErrorMessage": "Execution stopped."}
PAUSE_FIELDS = ("status", "paused", "tokens")  # what a pause or resume writes (of many writers')


class Controls(ExecutionHooks):
    """The operator's actions on durable executions (see the module docstring)."""

    def stop_execution(self, arn: str, error: dict[str, Any] | None) -> float:
        """StopDurableExecution: the stop's time. Raises ResourceNotFound, InvalidParameterValue
        (it has ended: the operation's model has no ResourceConflict)."""
        limits.check_error(error)
        row = self._existing(arn)
        if ended(row.status):
            raise InvalidParameterValue(f"Durable execution {arn} has already ended ({row.status}).")
        self._end(arn, Status.STOPPED, None, error or STOPPED)
        return self._clock.wall()

    def pause(
        self, arn: str, reason: str | None, timeout_paused: bool | None, client_token: str | None
    ) -> None:
        """PauseDurableExecution: PAUSING while an invocation is in flight (PAUSED at its next
        checkpoint or end), else PAUSED at once. Raises ResourceNotFound, ResourceConflict (not
        RUNNING), InvalidParameterValue (a client token reused for another request)."""
        row, now = self._existing(arn), self._clock.wall()
        request = {"Reason": reason, "ExecutionTimeoutPaused": timeout_paused}
        if client_tokens.replay(row.tokens, "pause", client_token, request, now) is not None:
            return
        if row.status != Status.RUNNING:
            raise ResourceConflict(
                f"Durable execution {arn} is {row.status}: only a RUNNING one can be paused."
            )
        row = row.with_(
            paused=pauses.stored(pauses.new(now, reason, timeout_paused)),
            tokens=client_tokens.record(row.tokens, "pause", client_token, request, {}, now),
        )
        if arn in self._invoking or (row.token and not self._homes.here(arn)):
            # in flight here, or (a token out) on its home node: its next checkpoint pauses it
            move(Status.RUNNING, Status.PAUSING)
            self._store.update(row.with_(status=Status.PAUSING.value), only=PAUSE_FIELDS)
        else:
            self._now_paused(row, owed=False)

    def resume(self, arn: str, reason: str | None, client_token: str | None) -> None:
        """ResumeDurableExecution: RUNNING again; invoked if the pause owes an invocation, its
        timeout moved on by the time spent paused. PAUSING: the pause is cancelled. Raises
        ResourceNotFound, ResourceConflict (neither PAUSING nor PAUSED), InvalidParameterValue."""
        row, now = self._existing(arn), self._clock.wall()
        request = {"Reason": reason}
        if client_tokens.replay(row.tokens, "resume", client_token, request, now) is not None:
            return
        pause = pauses.of(row)
        if row.status not in (Status.PAUSING, Status.PAUSED) or pause is None:
            raise ResourceConflict(
                f"Durable execution {arn} is {row.status}: only a paused one can be resumed."
            )
        move(Status(row.status), Status.RUNNING)
        resumed = row.with_(
            status=Status.RUNNING.value,
            paused=None,
            deadline=pauses.resumed_deadline(row, pause, now),
            tokens=client_tokens.record(row.tokens, "resume", client_token, request, {}, now),
        )
        with self._store.transaction():
            self._store.update(resumed, only=(*PAUSE_FIELDS, "deadline"))
            if row.status == Status.PAUSED:
                self._store.add_events(arn, [pauses.resumed_event(row, reason, now)])
        self._arm_deadline(resumed)
        if pause[pauses.OWED]:
            self._spawn(arn)

    def delete_execution(self, arn: str) -> float:
        """DeleteDurableExecution: an ended execution, its operations and its history are
        deleted (one transaction: DELETING is never seen); when. Raises ResourceNotFound,
        ResourceConflict (not ended)."""
        row = self._existing(arn)
        if not ended(row.status):
            raise ResourceConflict(
                f"Durable execution {arn} is {row.status}: only an ended one can be deleted."
            )
        self._store.delete([arn])
        self._forget(arn)
        return self._clock.wall()

    def _now_paused(self, row: ExecutionRow, owed: bool) -> ExecutionRow:
        """``row`` (RUNNING or PAUSING, with its pause) PAUSED now, with its ExecutionPaused event;
        its timeout re-armed (``pauses.deadline``)."""
        now, pause = self._clock.wall(), pauses.of(row) or pauses.new(self._clock.wall(), None, None)
        pause = pause | {pauses.PAUSED_AT: now, pauses.OWED: owed or pause[pauses.OWED]}
        move(Status(row.status), Status.PAUSED)
        paused = row.with_(status=Status.PAUSED.value, paused=pauses.stored(pause))
        with self._store.transaction():
            self._store.update(paused, only=PAUSE_FIELDS)
            self._store.add_events(row.arn, [pauses.paused_event(row, pause, now)])
        self._timers.cancel(row.arn, RETRY)
        self._arm_deadline(paused)
        return paused
