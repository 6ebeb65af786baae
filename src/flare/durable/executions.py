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

What the invocation reports (``wire.outcome``) decides what follows: SUCCEEDED or FAILED end
the execution; PENDING leaves it RUNNING until its earliest wait or retry (``operations.due``)
comes, on the engine's clock, which wakes the operation and invokes the execution again. An
invocation error (a function error: the runtime crashed or timed out, the wrapper raised) is
retried ``RETRY_BACKOFF_S`` later, up to ``MAX_FAILED_INVOCATIONS`` in a row (as the SDK's local
runner does), then fails the execution; an output the SDK never gives fails it at once. A
throttled invocation is tried again a second later. ``DurableConfig.ExecutionTimeout`` ends a
RUNNING execution as TIMED_OUT; an ended execution is deleted ``RetentionPeriodInDays`` after
its end (checked every ``SWEEP_S``). Everything is in the store (``store/durable.py``) as it
happens, so ``start`` after a restart arms every timer again (one already due fires at once) and
invokes again an execution whose invocation the restart cut short.

Contract: used from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from flare.clock import Clock
from flare.control.model import FunctionVersion
from flare.control.registry import Registry
from flare.durable import callbacks, chained, history, operations, targets, wire
from flare.durable.callbacks import public
from flare.durable.status import Status, ended, move
from flare.durable.timers import DEADLINE, RETRY, SWEEP, WAKE, Timers
from flare.errors import (
    DurableExecutionAlreadyStarted,
    FlareError,
    InvalidParameterValue,
    ResourceNotFound,
    TooManyRequests,
)
from flare.ids import new_request_id, new_trace_id
from flare.placement.router import Router
from flare.sandbox.invocation import Invocation
from flare.store.durable import DurableStore, ExecutionRow

log = logging.getLogger("flare.durable")

THROTTLE_RETRY_S = 1.0
RETRY_BACKOFF_S = 5.0  # before an invocation error's retry, on the engine's clock
SWEEP_S = 3600.0  # how often ended executions past their retention are deleted (engine clock)
MAX_FAILED_INVOCATIONS = 5  # in a row: then the execution FAILED with the last error
INITIAL_PAGE = 100  # operations in the invocation event; the SDK pages the rest (``state``)
INVALID_TOKEN = "Invalid checkpoint token"
STATE_PAGE = 100  # GetDurableExecutionState's page without MaxItems (the service's, per the local runner)


class DurableExecutions:
    """Durable executions of one scope (see the module docstring)."""

    def __init__(self, store: DurableStore, registry: Registry, router: Router, clock: Clock) -> None:
        self._store = store
        self._registry = registry
        self._router = router
        self._clock = clock
        self._timers = Timers(clock)
        self._invoking: set[str] = set()  # executions with an invocation in flight
        self._again: set[str] = set()  # ... woken meanwhile: invoke again once it ends
        self._waiters: dict[str, list[asyncio.Future[ExecutionRow]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures: dict[str, int] = {}  # arn => invocation errors in a row

    def __repr__(self) -> str:
        return f"<DurableExecutions invoking={len(self._invoking)} timers={len(self._timers)}>"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Arm the timers of every RUNNING execution, await again their chained invokes'
        targets, invoke again those with no timer (their last invocation was cut short). Call
        once, inside the event loop, after ``Registry.load``."""
        for row in self._store.with_status(Status.RUNNING):
            self._arm_deadline(row)
            for _, operation in self._store.operations(row.arn):
                if chained.pending(operation):
                    self._spawn_chained(row.arn, operation["Id"])
            if not self._arm_wake(row.arn):
                self._spawn(row.arn)
        self._sweep()

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

    # -- starting and waiting -------------------------------------------------------------------

    def start_execution(
        self, version: FunctionVersion, name: str | None, payload: bytes
    ) -> tuple[ExecutionRow, bool]:
        """The execution an invoke of ``version`` starts, and whether it is new (a new one is
        invoked in the background). Raises DurableExecutionAlreadyStarted."""
        text = payload.decode() if payload else "{}"
        if name is not None:
            found = self._store.named(version.name, name)
            if found is not None:
                if found.input != text:
                    raise DurableExecutionAlreadyStarted(
                        f"Durable execution {name} has already been started with a different input."
                    )
                return found, False
        row = wire.new_execution(version, name, text, self._clock.wall())
        timeout = version.durable_timeout_s or 0
        with self._store.db.transaction():
            self._store.insert(row)
            self._store.put_operations(row.arn, [wire.execution_operation(row)])
            self._store.add_events(row.arn, [history.execution_started(row, timeout)])
        self._arm_deadline(row)
        self._spawn(row.arn)
        return row, True

    async def wait_for(self, arn: str) -> ExecutionRow:
        """The execution once it has ended."""
        row = self._existing(arn)
        if ended(row.status):
            return row
        future: asyncio.Future[ExecutionRow] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(arn, []).append(future)
        return await future

    # -- the SDK's calls ------------------------------------------------------------------------

    def checkpoint(self, arn: str, token: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """CheckpointDurableExecution. Raises InvalidParameterValue (a token that is not the
        current one, an update the rules refuse: then nothing of the batch is kept)."""
        row = self._current(arn, token)
        now = self._clock.wall()
        changed: dict[str, dict[str, Any]] = {}
        events: list[dict[str, Any]] = []
        finish: tuple[Status, str | None, dict[str, Any] | None] | None = None
        for update in updates:
            if update.get("Type") == "EXECUTION":
                finish = history.execution_end(update)
                continue
            current = changed.get(update["Id"]) or self._store.operation(arn, update["Id"])
            operation, event = operations.apply(update, current, now, arn)
            changed[operation["Id"]] = operation
            events.append(event)
        with self._store.db.transaction():
            self._store.put_operations(arn, list(changed.values()))
            self._store.add_events(arn, events)
            next_token = "" if finish is not None else wire.new_token()
            self._store.update(row.with_(token=next_token))
        if finish is not None:
            self._end(arn, *finish)
        for operation in changed.values():
            if chained.pending(operation):
                self._spawn_chained(arn, operation["Id"])
        answer: dict[str, Any] = {
            "NewExecutionState": {"Operations": [public(op) for op in changed.values()]}
        }
        if next_token:
            answer["CheckpointToken"] = next_token
        return answer

    def state(self, arn: str, token: str, marker: str | None, max_items: int | None) -> dict[str, Any]:
        """GetDurableExecutionState: a page of operations after ``marker``. Raises
        InvalidParameterValue (the token, the marker)."""
        self._current(arn, token)
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

    # -- callbacks' answers ---------------------------------------------------------------------

    def answer_callback(self, callback: str, result: str | None, error: dict[str, Any] | None) -> None:
        """SendDurableExecutionCallbackSuccess (``result``) / Failure (``error``): the callback
        ends and its execution is invoked again. Raises ResourceNotFound, InvalidParameterValue."""
        arn, operation = self._waiting_callback(callback)
        answered, event = callbacks.answer(operation, result, error, self._clock.wall())
        with self._store.db.transaction():
            self._store.put_operations(arn, [answered])
            self._store.add_events(arn, [event])
        self._spawn(arn)

    def heartbeat(self, callback: str) -> None:
        """SendDurableExecutionCallbackHeartbeat: the heartbeat time-out counts again from now.
        Raises ResourceNotFound, InvalidParameterValue."""
        arn, operation = self._waiting_callback(callback)
        self._store.put_operations(arn, [callbacks.heartbeat(operation, self._clock.wall())])
        if arn not in self._invoking:
            self._arm_wake(arn)

    def _waiting_callback(self, callback: str) -> tuple[str, dict[str, Any]]:
        arn, operation_id = callbacks.parse_callback_id(callback)
        row = self._store.get(arn)
        if row is None:
            raise ResourceNotFound(f"Callback not found: {callback}.")
        operation = callbacks.waiting(self._store.operation(arn, operation_id), callback)
        if ended(row.status):
            raise InvalidParameterValue(f"Durable execution {arn} has already ended ({row.status}).")
        return arn, operation

    # -- reads and stop -------------------------------------------------------------------------

    def get(self, arn: str) -> ExecutionRow:
        """Raises ResourceNotFound."""
        return self._existing(arn)

    def of_function(self, name: str) -> list[ExecutionRow]:
        return self._store.of_function(name)

    def history(self, arn: str) -> list[dict[str, Any]]:
        self._existing(arn)
        return self._store.events(arn)

    def stop_execution(self, arn: str, error: dict[str, Any] | None) -> float:
        """StopDurableExecution: the stop's time. Raises ResourceNotFound, InvalidParameterValue
        (it has ended: the operation's model has no ResourceConflict)."""
        row = self._existing(arn)
        if ended(row.status):
            raise InvalidParameterValue(f"Durable execution {arn} has already ended ({row.status}).")
        self._end(
            arn, Status.STOPPED, None, error or {"ErrorType": "Stopped", "ErrorMessage": "Execution stopped."}
        )
        return self._clock.wall()

    # -- invocations ----------------------------------------------------------------------------

    def _spawn(self, arn: str) -> None:
        task = asyncio.get_running_loop().create_task(self._invoke(arn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _invoke(self, arn: str) -> None:
        """One invocation of ``arn`` (see the module docstring); a wake-up that came meanwhile
        invokes it again."""
        if arn in self._invoking:
            self._again.add(arn)
            return
        self._invoking.add(arn)
        try:
            await self._invoke_once(arn)
        except Exception:
            log.exception("durable execution %s: invocation failed", arn)
        finally:
            self._invoking.discard(arn)
        if arn in self._again:
            self._again.discard(arn)
            self._spawn(arn)

    async def _invoke_once(self, arn: str) -> None:
        row = self._store.get(arn)
        if row is None or ended(row.status):
            return
        token = wire.new_token()
        self._store.update(row.with_(token=token))
        page = self._store.operations(arn, 0, INITIAL_PAGE + 1)
        marker = str(page[INITIAL_PAGE - 1][0]) if len(page) > INITIAL_PAGE else ""
        payload = wire.invocation_event(arn, token, [public(op) for _, op in page[:INITIAL_PAGE]], marker)
        began, request_id = self._clock.wall(), new_request_id()
        try:
            version = self._registry.resolve(row.function, row.version)
            invoked_arn = f"{version.function_arn}:{row.version}"
            invocation = Invocation(request_id, payload, invoked_arn, new_trace_id(began), source="durable")
            async with self._router.invoke(version, invocation) as result:
                outcome = wire.outcome(result.payload, result.function_error)
        except TooManyRequests:
            self._retry_later(arn, THROTTLE_RETRY_S)
            return
        except FlareError as error:
            failure = {"ErrorType": error.aws_name, "ErrorMessage": error.message}
            outcome = wire.Outcome(wire.Reported.INVOCATION_ERROR, error=failure)
        self._store.add_events(
            arn, [history.invocation_completed(row, began, self._clock.wall(), request_id, outcome)]
        )
        self._settle(arn, outcome)

    def _settle(self, arn: str, outcome: wire.Outcome) -> None:
        row = self._store.get(arn)
        if row is None or ended(row.status):
            return
        self._store.update(row.with_(token=""))
        failures = self._failures.pop(arn, 0) + 1
        if outcome.reported is wire.Reported.SUCCEEDED:
            self._end(arn, Status.SUCCEEDED, outcome.result, None)
        elif outcome.reported is wire.Reported.PENDING:
            self._arm_wake(arn)
        elif outcome.reported is wire.Reported.INVOCATION_ERROR and failures < MAX_FAILED_INVOCATIONS:
            self._failures[arn] = failures
            self._retry_later(arn, RETRY_BACKOFF_S)
        else:
            self._end(arn, Status.FAILED, None, outcome.error or {})

    def _retry_later(self, arn: str, delay: float) -> None:
        self._timers.set_at(arn, RETRY, self._clock.wall() + delay, lambda: self._spawn(arn))

    # -- chained invokes ------------------------------------------------------------------------

    def _spawn_chained(self, arn: str, operation_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run_chained(arn, operation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_chained(self, arn: str, operation_id: str) -> None:
        """Invoke a chained invoke's target (``targets``), then end the operation with its
        answer and invoke the execution again."""
        operation = self._store.operation(arn, operation_id)
        if operation is None or not chained.pending(operation):
            return

        def start_child(version: FunctionVersion, payload: bytes) -> str:
            child = self.start_execution(version, None, payload)[0].arn
            self._store.put_operations(arn, [{**operation, chained.CHILD: child}])
            return child

        result, error = await targets.call(
            operation, self._registry, self._router, self._clock, start_child, self.wait_for
        )
        row, current = self._store.get(arn), self._store.operation(arn, operation_id)
        if row is None or ended(row.status) or current is None or not chained.pending(current):
            return
        done, event = chained.finish(current, result, error, self._clock.wall())
        with self._store.db.transaction():
            self._store.put_operations(arn, [done])
            self._store.add_events(arn, [event])
        self._spawn(arn)

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
        row, operation = self._store.get(arn), self._store.operation(arn, operation_id)
        if row is None or ended(row.status) or operation is None:
            return
        due, now = operations.due(operation), self._clock.wall()
        if due is None or due > now:  # answered, or a heartbeat moved its time: the next one
            if arn not in self._invoking:
                self._arm_wake(arn)
            return
        woken, event = operations.wake(operation, now)
        with self._store.db.transaction():
            self._store.put_operations(arn, [woken])
            self._store.add_events(arn, [event] if event is not None else [])
        self._spawn(arn)

    def _sweep(self) -> None:
        """Delete the executions ended longer ago than their retention; again in ``SWEEP_S``."""
        expired = self._store.expired(self._clock.wall())
        if expired:
            log.info("deleting %d durable executions past their retention", len(expired))
            self._store.delete(expired)
        self._timers.set_at("", SWEEP, self._clock.wall() + SWEEP_S, self._sweep)

    def _arm_deadline(self, row: ExecutionRow) -> None:
        self._timers.set_at(row.arn, DEADLINE, row.deadline, lambda: self._time_out(row.arn))

    def _time_out(self, arn: str) -> None:
        row = self._store.get(arn)
        if row is not None and not ended(row.status):
            self._end(
                arn, Status.TIMED_OUT, None, {"ErrorType": "TimedOut", "ErrorMessage": "Execution timed out."}
            )

    # -- ending ---------------------------------------------------------------------------------

    def _end(self, arn: str, status: Status, result: str | None, error: dict[str, Any] | None) -> None:
        row = self._existing(arn)
        move(Status(row.status), status)
        now = self._clock.wall()
        error_text = json.dumps(error) if error is not None else None
        ended_row = row.with_(status=status.value, result=result, error=error_text, ended=now, token="")
        with self._store.db.transaction():
            self._store.update(ended_row)
            self._store.add_events(arn, [history.execution_ended(ended_row, now)])
        self._forget(arn)
        for future in self._waiters.pop(arn, []):
            if not future.done():
                future.set_result(ended_row)

    def _forget(self, arn: str) -> None:
        self._failures.pop(arn, None)
        self._timers.cancel(arn)

    def _existing(self, arn: str) -> ExecutionRow:
        row = self._store.get(arn)
        if row is None:
            raise ResourceNotFound(f"Durable execution not found: {arn}")
        return row

    def _current(self, arn: str, token: str) -> ExecutionRow:
        row = self._store.get(arn)
        if row is None or not row.token or token != row.token:
            raise InvalidParameterValue(INVALID_TOKEN)
        return row
