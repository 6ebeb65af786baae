"""The invocations of durable executions: each one through the router like any other (cold or
warm environments, concurrency, REPORT lines), with the event the SDK expects
(``wire.invocation_event``) and a fresh checkpoint token, and what follows from how it ended
(``_settle``, see ``executions``). A part of ``DurableExecutions`` (which inherits it), kept apart
for size; it reaches the execution's state through ``ExecutionHooks``.

A throttled invocation is tried again after the async queue's backoff (``retry.throttle_delay``:
1 s, 2 s, 4 s... at most 5 minutes); an Event invoke's first invocation is the async queue's own
try (``invoke_queued``). Contract: used from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import json
import logging

from flare.durable import history, pauses, wire
from flare.durable.callbacks import public
from flare.durable.homes import Claim
from flare.durable.hooks import ExecutionHooks
from flare.durable.status import Status, ended
from flare.durable.timers import RETRY
from flare.errors import FlareError, TooManyRequests
from flare.events.retry import throttle_delay
from flare.ids import new_request_id, new_trace_id
from flare.sandbox.invocation import Invocation

log = logging.getLogger("flare.durable")

RETRY_BACKOFF_S = 5.0  # before an invocation error's retry, on the engine's clock
MAX_FAILED_INVOCATIONS = 5  # in a row: then the execution FAILED with the last error
INITIAL_PAGE = 100  # operations in the invocation event; the SDK pages the rest (``state``)
_FINAL = (wire.Reported.FAILED, wire.Reported.INVALID_OUTPUT)  # what fails the execution at once


class Invocations(ExecutionHooks):
    """Invoking durable executions (see the module docstring)."""

    def _spawn(self, arn: str) -> None:
        """Invoke ``arn`` in the background if this node is its home (``homes``); else ask its
        home to."""
        claim = self._homes.claim(arn)
        if claim is Claim.ELSEWHERE:
            self._homes.call_home(arn)
            return
        if claim is Claim.TAKEN and (row := self._store.get(arn)) is not None:
            self._arm_deadline(row)
        task = asyncio.get_running_loop().create_task(self._invoke(arn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _invoke(self, arn: str) -> None:
        """One invocation of ``arn`` (see the module docstring); a wake-up that came meanwhile
        invokes it again; a throttle is tried again after the async queue's backoff."""
        if arn in self._invoking:
            self._again.add(arn)
            return
        self._invoking.add(arn)
        try:
            await self._invoke_once(arn)
            self._throttles.pop(arn, None)
        except TooManyRequests:
            self._throttles[arn] = self._throttles.get(arn, 0) + 1
            self._retry_later(arn, throttle_delay(self._throttles[arn]))
        except Exception:
            log.exception("durable execution %s: invocation failed", arn)
        finally:
            self._invoking.discard(arn)
        self._again_if_woken(arn)

    def _again_if_woken(self, arn: str) -> None:
        if arn in self._again:
            self._again.discard(arn)
            self._spawn(arn)

    async def invoke_queued(self, request_id: str) -> bytes | None:
        """The first invocation of the execution an ``Event`` invoke queued as ``request_id``
        (``AsyncQueue`` calls it when the event falls due): what the invocation answered, or
        None when it was throttled (the queue tries again by its own rules). Nothing to invoke
        (no such execution, or it ended meanwhile): b""."""
        row = self._store.queued_as(request_id)
        if row is None or row.arn in self._invoking:
            return b""
        self._homes.seize(row.arn)  # the queue's node runs it (another may have accepted it)
        self._arm_deadline(row)
        self._invoking.add(row.arn)
        try:
            answer = await self._invoke_once(row.arn)
        except TooManyRequests:
            return None
        finally:
            self._invoking.discard(row.arn)
        found = self._store.get(row.arn)
        if found is not None:
            self._store.update(found.with_(queued=None), only=("queued",))
        self._again_if_woken(row.arn)
        return answer

    def queue_gave_up(self, request_id: str, condition: str) -> None:
        """The async queue gave up the first invocation of ``request_id``'s execution (its
        events' age or retries ran out): the execution FAILED with ``condition``."""
        row = self._store.queued_as(request_id)
        if row is not None and not ended(row.status):
            error = {
                "ErrorType": condition,
                "ErrorMessage": f"The invocation that starts the execution: {condition}.",
            }
            self._end(row.arn, Status.FAILED, None, error)

    async def _invoke_once(self, arn: str) -> bytes:
        """Invoke ``arn`` once and act on its outcome (``_settle``); what the invocation
        answered. Raises TooManyRequests (throttled: nothing happened)."""
        row = self._store.get(arn)
        if row is None or ended(row.status):
            return b""
        pause = pauses.of(row)
        if row.status == Status.PAUSED and pause is not None:  # resuming will invoke it
            self._store.update(row.with_(paused=pauses.stored(pauses.owe(pause))), only=("paused",))
            return b""
        token, updated = wire.new_token(), list(json.loads(row.updated))
        # the invocation's input carries the operations changed since the last one
        self._store.update(row.with_(token=token, updated="[]"), only=("token", "updated"))
        page = self._store.operations(arn, 0, INITIAL_PAGE + 1)
        marker = str(page[INITIAL_PAGE - 1][0]) if len(page) > INITIAL_PAGE else ""
        operations = [public(op) for _, op in page[:INITIAL_PAGE]]
        payload = wire.invocation_event(arn, token, operations, marker, updated)
        began, request_id = self._clock.wall(), new_request_id()
        try:
            version = self._registry.resolve(row.function, row.version)
            invoked_arn = f"{version.function_arn}:{row.version}"
            invocation = Invocation(request_id, payload, invoked_arn, new_trace_id(began), source="durable")
            async with self._router.invoke(version, invocation) as result:
                outcome = wire.outcome(result.payload, result.function_error)
                answer = result.payload
        except FlareError as error:
            if isinstance(error, TooManyRequests):
                raise
            failure = {"ErrorType": error.aws_name, "ErrorMessage": error.message}
            outcome = wire.Outcome(wire.Reported.INVOCATION_ERROR, error=failure)
            answer = json.dumps({"errorType": error.aws_name, "errorMessage": error.message}).encode()
        self._store.add_events(
            arn, [history.invocation_completed(row, began, self._clock.wall(), request_id, outcome)]
        )
        self._settle(arn, outcome)
        return answer

    def _settle(self, arn: str, outcome: wire.Outcome) -> None:
        """Act on how an invocation ended (see the module docstring). While PAUSING, an
        invocation that suspended or failed leaves the execution PAUSED (owing an invocation
        after a failure); a checkpoint already PAUSED one the pause cut short."""
        row = self._store.get(arn)
        if row is None or ended(row.status):
            return
        failed = outcome.reported is wire.Reported.INVOCATION_ERROR
        row = row.with_(token="", failures=row.failures + 1 if failed else 0)
        self._store.update(row, only=("token", "failures"))
        if outcome.reported is wire.Reported.SUCCEEDED:
            self._end(arn, Status.SUCCEEDED, outcome.result, None)
        elif outcome.reported in _FINAL or row.failures >= MAX_FAILED_INVOCATIONS:
            self._end(arn, Status.FAILED, None, outcome.error or {})
        elif row.status != Status.RUNNING:
            if row.status == Status.PAUSING:
                self._now_paused(row, owed=failed)
            self._arm_wake(arn)
        elif failed:
            self._retry_later(arn, RETRY_BACKOFF_S)
        else:
            self._arm_wake(arn)

    def _retry_later(self, arn: str, delay: float) -> None:
        self._timers.set_at(arn, RETRY, self._clock.wall() + delay, lambda: self._retry(arn))

    def _retry(self, arn: str) -> None:
        if self._homes.here(arn):  # else it moved home: the new home has its own timer
            self._spawn(arn)
