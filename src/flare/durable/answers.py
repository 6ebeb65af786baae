"""What a durable execution awaits from outside it: its callbacks' answers
(SendDurableExecutionCallbackSuccess / Failure / Heartbeat) and its chained invokes' targets. A
part of ``DurableExecutions`` (which inherits it), kept apart for size; it reaches the
execution's state through ``ExecutionHooks``. Contract: used from the event loop's thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flare.control.model import FunctionVersion
from flare.durable import callbacks, chained, limits, targets
from flare.durable.hooks import ExecutionHooks
from flare.durable.status import ended
from flare.errors import FlareError, InvalidParameterValue, ResourceNotFound


class Answers(ExecutionHooks):
    """Callbacks answered and chained invokes run (see the module docstring)."""

    def answer_callback(self, callback: str, result: str | None, error: dict[str, Any] | None) -> None:
        """SendDurableExecutionCallbackSuccess (``result``) / Failure (``error``): the callback
        ends and its execution is invoked again. Raises ResourceNotFound, InvalidParameterValue."""
        limits.check_error(error)
        arn, operation = self._waiting_callback(callback)
        answered, event = callbacks.answer(operation, result, error, self._clock.wall())
        with self._store.transaction():
            self._store.put_operations(arn, [answered])
            self._store.add_events(arn, [event])
            self._store.mark_updated(arn, [answered["Id"]])
        self._spawn(arn)

    def heartbeat(self, callback: str) -> None:
        """SendDurableExecutionCallbackHeartbeat: the heartbeat time-out counts again from now.
        Raises ResourceNotFound, InvalidParameterValue."""
        arn, operation = self._waiting_callback(callback)
        self._store.put_operations(arn, [callbacks.heartbeat(operation, self._clock.wall())])
        if arn not in self._invoking and self._homes.here(arn):  # else its home's timer re-reads it
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

    def _begin_chained(self, operation: dict[str, Any], event: dict[str, Any]) -> None:
        """A chained invoke's START, as it is checkpointed: its target resolved now, a durable
        one started as an execution of its own (kept on ``operation``), so that the
        ChainedInvokeStarted ``event`` names the version and the child execution, as AWS's
        does. A target that cannot be resolved fails the operation later, when it is invoked."""
        try:
            version, _ = self._registry.resolve_invocation(str(operation[chained.TARGET]), None)
        except FlareError:
            return
        details = event[f"{event['EventType']}Details"]
        details["ExecutedVersion"] = version.version
        if version.durable_timeout_s is not None and chained.CHILD not in operation:
            child = self.start_execution(version, None, str(operation[chained.INPUT]).encode())[0].arn
            operation[chained.CHILD] = child
            details["DurableExecutionArn"] = child

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

        answer = await targets.call(
            operation, self._registry, self._router, self._clock, start_child, self.wait_for
        )
        row, current = self._store.get(arn), self._store.operation(arn, operation_id)
        if row is None or ended(row.status) or current is None or not chained.pending(current):
            return
        done, event = chained.finish(current, answer, self._clock.wall())
        with self._store.transaction():
            self._store.put_operations(arn, [done])
            self._store.add_events(arn, [event])
            self._store.mark_updated(arn, [operation_id])
        self._spawn(arn)
