"""The actor of one account and region's durable executions: starts them, invokes their
handler, takes their checkpoints, wakes them when a wait ends, and ends them.

An invoke of a durable function (``start``) creates an execution (``RUNNING``, its input, an
operation of type EXECUTION), named by ``DurableExecutionName`` or a new UUID: the same name
with the same payload is the same execution, with another payload a 409. Each *invocation* of
an execution goes through the router like any other (cold or warm environments, concurrency,
REPORT lines), with the event the SDK expects (``wire.invocation_event``) and a fresh
checkpoint token that only that invocation may use. The SDK then calls back:

* ``checkpoint``: the token must be the current one; each update is applied by the pure rules of
  ``operations``; an update of the EXECUTION ends it; a new token is returned, with the
  operations the updates made.
* ``state``: the execution's operations in checkpoint order, ``MaxItems`` a page.

What the invocation reports (``wire.outcome``) decides what follows: SUCCEEDED or FAILED end the
execution; PENDING leaves it RUNNING until its earliest wait or retry (``operations.due``)
comes, on the engine's clock, which wakes the operation and invokes the execution again. An
invocation error (a function error: the runtime crashed or timed out, the wrapper raised) is
retried ``RETRY_BACKOFF_S`` later, up to ``MAX_FAILED_INVOCATIONS`` in a row (as the SDK's local
runner does; the count is kept in the store), then fails the execution; an output the SDK never
gives fails it at once. A throttled invocation is tried again a second later.
``DurableConfig.ExecutionTimeout`` ends a RUNNING execution as TIMED_OUT; an ended execution is
deleted ``RetentionPeriodInDays`` after its end (checked every ``SWEEP_S``). Everything is in
the store (``store/durable.py``) as it happens, so ``start`` after a restart arms every timer
again (one already due fires at once) and invokes again an execution whose invocation the
restart cut short.

In a cluster every node's actor shares the one store (``cluster/redis_durable.py``), so any node
answers for any execution; one node, its *home* (``homes``), invokes it and keeps its timers. A
node that changes an execution it is not home to (a callback answered, a resume) asks the home
to invoke it; a timer whose execution moved home does nothing; when a node dies, a live one
adopts its executions (``_adopt_orphans``) and arms their timers again from the store, as a
restart does.

Parts of the actor live apart, for size: ``homecoming`` (starting, adopting, hearing other
nodes), ``controls`` (stop, pause, resume, delete) and ``answers`` (callbacks' answers, chained
invokes), sharing its state through ``hooks``. A checkpoint's ``ClientToken`` is kept per
``client_tokens``; its payloads are limited by ``limits``.

Contract: used from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import AbstractContextManager
from typing import Any

from flare.clock import Clock
from flare.control.model import FunctionVersion
from flare.control.registry import Registry
from flare.durable import chained, client_tokens, history, limits, operations, pauses, wire
from flare.durable.answers import Answers
from flare.durable.callbacks import public
from flare.durable.controls import Controls
from flare.durable.homecoming import Homecoming
from flare.durable.homes import ExecutionHomes, LocalHomes
from flare.durable.invocations import Invocations
from flare.durable.status import Status, ended, move
from flare.durable.timers import DEADLINE, SWEEP, WAKE, Timers
from flare.errors import (
    DurableExecutionAlreadyStarted,
    InvalidParameterValue,
    ResourceNotFound,
    StaleRevision,
)
from flare.placement.router import Router
from flare.store.durable import ExecutionRow
from flare.store.storage import DurableStorage

log = logging.getLogger("flare.durable")

SWEEP_S = 3600.0  # how often ended executions past their retention are deleted (engine clock)
INVALID_TOKEN = "Invalid checkpoint token"
STATE_PAGE = 100  # GetDurableExecutionState's page without MaxItems (the service's, per the local runner)


class DurableExecutions(Homecoming, Invocations, Controls, Answers):
    """Durable executions of one scope (see the module docstring)."""

    def __init__(
        self,
        store: DurableStorage,
        registry: Registry,
        router: Router,
        clock: Clock,
        homes: ExecutionHomes | None = None,
    ) -> None:
        self._store = store
        self._homes: ExecutionHomes = homes or LocalHomes()
        self._registry = registry
        self._router = router
        self._clock = clock
        self._timers = Timers(clock)
        self._invoking: set[str] = set()  # executions with an invocation in flight
        self._again: set[str] = set()  # ... woken meanwhile: invoke again once it ends
        self._waiters: dict[str, list[asyncio.Future[ExecutionRow]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._throttles: dict[str, int] = {}  # arn => throttled invocations in a row

    def __repr__(self) -> str:
        return f"<DurableExecutions invoking={len(self._invoking)} timers={len(self._timers)}>"

    # -- lifecycle ------------------------------------------------------------------------------

    async def stop(self) -> None:
        self._timers.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def function_changed(self, name: str, version: str | None) -> None:
        """Registry version listener: a deleted function takes its executions with it (inside
        the deletion's transaction)."""
        try:
            self._registry.resolve(name, None)
        except ResourceNotFound:
            for row in self._store.of_function(name):
                self._forget(row.arn)
            self._store.delete_function(name)

    def transaction(self) -> AbstractContextManager[object]:
        """One transaction of the engine's database around what is done inside (an Event
        invoke's execution and its queued event are one commit)."""
        return self._store.transaction()

    # -- starting and waiting -------------------------------------------------------------------

    def start_execution(
        self,
        version: FunctionVersion,
        name: str | None,
        payload: bytes,
        synchronous: bool = False,
        queued: str | None = None,
    ) -> tuple[ExecutionRow, bool]:
        """The execution an invoke of ``version`` starts, and whether it is new. A new one is
        invoked in the background, or, ``queued`` (the request id of an Event invoke), by the
        async queue (``invoke_queued``). Raises DurableExecutionAlreadyStarted."""
        text = payload.decode() if payload else "{}"
        found = self._named(version.name, name, text)
        if found is not None:
            return found, False
        row = wire.new_execution(version, name, text, self._clock.wall())
        row = row.with_(synchronous=synchronous, queued=queued)
        timeout = version.durable_timeout_s or 0
        try:
            with self._store.transaction():
                self._store.insert(row)
                self._store.put_operations(row.arn, [wire.execution_operation(row)])
                self._store.add_events(row.arn, [history.execution_started(row, timeout)])
        except StaleRevision:  # another node started it meanwhile
            found = self._named(version.name, name, text)
            if found is None:
                raise
            return found, False
        self._homes.seize(row.arn)
        self._arm_deadline(row)
        if queued is None:
            self._spawn(row.arn)
        return row, True

    def _named(self, function: str, name: str | None, text: str) -> ExecutionRow | None:
        """The execution ``name`` of ``function`` if there is one. Raises
        DurableExecutionAlreadyStarted (it has another input)."""
        found = None if name is None else self._store.named(function, name)
        if found is not None and found.input != text:
            raise DurableExecutionAlreadyStarted(
                f"Durable execution {name} has already been started with a different input."
            )
        return found

    async def wait_for(self, arn: str) -> ExecutionRow:
        """The execution once it has ended."""
        row = self._existing(arn)
        if ended(row.status):
            return row
        future: asyncio.Future[ExecutionRow] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(arn, []).append(future)
        return await future

    async def wait_at_most(self, arn: str, seconds: float) -> ExecutionRow | None:
        """The execution once it has ended, or None when it has not within ``seconds`` of the
        engine's clock (it goes on running)."""
        waited = asyncio.ensure_future(self.wait_for(arn))
        expired: list[bool] = []

        def expire() -> None:
            expired.append(True)
            waited.cancel()

        timer = self._clock.call_later(seconds, expire)
        try:
            return await waited
        except asyncio.CancelledError:
            if not expired:
                raise
            return None
        finally:
            timer.cancel()

    # -- the SDK's calls ------------------------------------------------------------------------

    def checkpoint(
        self, arn: str, token: str, updates: list[dict[str, Any]], client_token: str | None = None
    ) -> dict[str, Any]:
        """CheckpointDurableExecution. The same ``client_token`` and (spent) ``token`` again
        within 15 minutes gets the first answer (``client_tokens``). While PAUSING the updates
        are kept, the execution is PAUSED and no token is returned, so the SDK ends the
        invocation (PENDING). Raises InvalidParameterValue (a token that is not the current one,
        an update the rules or ``limits`` refuse: then nothing of the batch is kept)."""
        now, found = self._clock.wall(), self._store.get(arn)
        replayed = (
            None
            if found is None
            else client_tokens.replay(found.tokens, "checkpoint", client_token, token, now)
        )
        if replayed is not None:
            return replayed
        row = _current(found, token)  # read once: the write below is guarded by the token
        limits.check_updates(updates, row.synchronous)
        changed, events, finish = self._apply(arn, updates, now)
        for event in events:
            if event["EventType"] == "ChainedInvokeStarted":
                self._begin_chained(changed[event["Id"]], event)
        pausing = finish is None and row.status == Status.PAUSING
        next_token = "" if finish is not None or pausing else wire.new_token()
        answer: dict[str, Any] = {
            "NewExecutionState": {"Operations": [public(op) for op in changed.values()]}
        }
        if next_token:
            answer["CheckpointToken"] = next_token
        kept = (
            row.tokens
            if pausing
            else client_tokens.record(row.tokens, "checkpoint", client_token, token, answer, now)
        )
        try:
            with self._store.transaction():
                self._store.put_operations(arn, list(changed.values()))
                self._store.add_events(arn, events)
                self._store.update(
                    row.with_(token=next_token, tokens=kept), expect_token=token, only=("token", "tokens")
                )
        except StaleRevision:  # another checkpoint with this token, or an end, came first
            raise InvalidParameterValue(INVALID_TOKEN) from None
        if finish is not None:
            self._end(arn, *finish)
        elif pausing:
            self._now_paused(self._existing(arn), owed=True)
        for operation in changed.values():
            if chained.pending(operation):
                self._spawn_chained(arn, operation["Id"])
        return answer

    def _apply(
        self, arn: str, updates: list[dict[str, Any]], now: float
    ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], history.Finish | None]:
        """The operations ``updates`` change, their events, and the end an EXECUTION update asks
        for. Raises InvalidParameterValue (``operations.check``)."""
        changed: dict[str, dict[str, Any]] = {}
        events: list[dict[str, Any]] = []
        finish: history.Finish | None = None
        for update in updates:
            if update.get("Type") == "EXECUTION":
                finish = history.execution_end(update)
                continue
            current = changed.get(update["Id"]) or self._store.operation(arn, update["Id"])
            operation, event = operations.apply(update, current, now, arn)
            changed[operation["Id"]] = operation
            events.append(event)
        return changed, events, finish

    def state(self, arn: str, token: str, marker: str | None, max_items: int | None) -> dict[str, Any]:
        """GetDurableExecutionState: a page of operations after ``marker``. Raises
        InvalidParameterValue (the token, the marker)."""
        _current(self._store.get(arn), token)
        try:
            after = int(marker) if marker else 0
        except ValueError:
            raise InvalidParameterValue(f"Invalid marker: {marker}") from None
        limit = max_items or STATE_PAGE
        page = self._store.operations(arn, after, limit + 1)
        answer: dict[str, Any] = {"Operations": [public(operation) for _, operation in page[:limit]]}
        if len(page) > limit:
            answer["NextMarker"] = str(page[limit - 1][0])
        return answer

    # -- reads -------------------------------------------------------------------------

    def get(self, arn: str) -> ExecutionRow:
        """Raises ResourceNotFound."""
        return self._existing(arn)

    def of_function(self, name: str) -> list[ExecutionRow]:
        return self._store.of_function(name)

    def history(self, arn: str) -> list[dict[str, Any]]:
        self._existing(arn)
        return self._store.events(arn)

    # -- timers ---------------------------------------------------------------------------------

    def _arm_wake(self, arn: str) -> bool:
        """Arm ``arn``'s earliest wait or retry; False when it has none."""
        dues = [
            (when, op["Id"])
            for _, op in self._store.operations(arn)
            if (when := operations.due(op)) is not None
        ]
        if not dues:
            return False
        when, operation_id = min(dues)
        self._timers.set_at(arn, WAKE, when, lambda: self._wake(arn, operation_id))
        return True

    def _wake(self, arn: str, operation_id: str) -> None:
        if not self._homes.here(arn):  # it moved home: the new home has its own timer
            return
        row, operation = self._store.get(arn), self._store.operation(arn, operation_id)
        if row is None or ended(row.status) or operation is None:
            return
        due, now = operations.due(operation), self._clock.wall()
        if due is None or due > now:  # answered, or a heartbeat moved its time: the next one
            if arn not in self._invoking:
                self._arm_wake(arn)
            return
        woken, event = operations.wake(operation, now)
        with self._store.transaction():
            self._store.put_operations(arn, [woken])
            self._store.add_events(arn, [event] if event is not None else [])
            self._store.mark_updated(arn, [operation_id])
        self._spawn(arn)

    def _sweep(self) -> None:
        """Delete the executions ended longer ago than their retention; again in ``SWEEP_S``."""
        expired = self._store.expired(self._clock.wall())
        if expired:
            log.info("deleting %d durable executions past their retention", len(expired))
            self._store.delete(expired)
        self._timers.set_at("", SWEEP, self._clock.wall() + SWEEP_S, self._sweep)

    def _arm_deadline(self, row: ExecutionRow) -> None:
        when = pauses.deadline(row, pauses.of(row))
        self._timers.set_at(row.arn, DEADLINE, when, lambda: self._time_out(row.arn, when))

    def _time_out(self, arn: str, armed: float) -> None:
        """``arn``'s timeout armed for ``armed`` fired: it times out, unless its stored timeout
        has moved later since (a pause or resume made on another node): then again at that."""
        row = self._store.get(arn)
        if row is None or not self._homes.here(arn) or ended(row.status):
            return
        if pauses.deadline(row, pauses.of(row)) > armed:
            self._arm_deadline(row)
        else:
            self._end(
                arn, Status.TIMED_OUT, None, {"ErrorType": "TimedOut", "ErrorMessage": "Execution timed out."}
            )

    # -- ending ---------------------------------------------------------------------------------

    def _end(self, arn: str, status: Status, result: str | None, error: dict[str, Any] | None) -> None:
        row = self._existing(arn)
        move(Status(row.status), status)
        now = self._clock.wall()
        error_text = json.dumps(error) if error is not None else None
        ended_row = row.with_(
            status=status.value, result=result, error=error_text, ended=now, token="", paused=None
        )
        with self._store.transaction():
            self._store.update(ended_row)
            self._store.add_events(arn, [history.execution_ended(ended_row, now)])
        self._forget(arn)
        self._answer_waiters(ended_row)
        self._homes.announce_end(arn)

    def _forget(self, arn: str) -> None:
        self._throttles.pop(arn, None)
        self._timers.cancel(arn)
        self._homes.release(arn)

    def _existing(self, arn: str) -> ExecutionRow:
        row = self._store.get(arn)
        if row is None:
            raise ResourceNotFound(f"Durable execution not found: {arn}")
        return row


def _current(row: ExecutionRow | None, token: str) -> ExecutionRow:
    """``row`` if ``token`` is its current checkpoint token. Raises InvalidParameterValue."""
    if row is None or not row.token or token != row.token:
        raise InvalidParameterValue(INVALID_TOKEN)
    return row
