"""The asynchronous invocation queue: ``InvocationType=Event`` from 202 to its last try.

``accept`` (or ``submit``) adds the event to the ``EventBook`` (durable before the caller answers
202: SQLite on one node, Redis in a cluster; ``events/event_book.py``) and arms a timer for it.
When an event falls due, a worker takes it from the book (in a cluster: leases it, so one node
tries it at a time), resolves its function and qualifier again and tries it through the
router, like a synchronous invoke; ``retry.decide`` says what follows, and the worker applies
it::

    Done(Success)       OnSuccess destination (if any) gets the record; the row is deleted
    Retry(delay)        the row gets its new due time and try counts; a timer is armed
    Done(failure)       OnFailure destination and/or the version's DeadLetterConfig get the
                        record / original payload; the row is deleted

Deliveries happen before the delete, so a crash in between repeats them rather than losing
them; a crash during a try leaves the row as it was, and a restarted queue (or, in a cluster,
another node once the lease has run out) tries it again (at-least-once). A function with
reserved concurrency 0 sends its events straight to failure handling, without tries. A
function deleted while its events wait drops them.

An event of a durable function (``queued_durable``) is the first invocation of the durable
execution its Event invoke started: its try is ``QueuedExecutions.invoke_queued`` (Success once
that invocation ran, whatever the execution then does; throttled as any try), and when the queue
gives it up the execution FAILED (``queue_gave_up``); destinations and the DLQ as for any event.

Every delay goes through the injected clock: timers with ``clock.call_later``, stored times with
``clock.wall()``. Contract: used from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from flare.clock import Clock, TimerHandle
from flare.control import tenancy
from flare.control.arns import parse_function_name
from flare.control.model import FunctionVersion
from flare.control.registry import Registry
from flare.errors import FlareError, ResourceNotFound, TooManyRequests
from flare.events.counters import Counters
from flare.events.destinations import Destinations, invocation_record
from flare.events.event_book import EventBook
from flare.events.invoke_config import InvokeConfigs, Target
from flare.events.invoker import error_response
from flare.events.retry import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    Done,
    Outcome,
    Policy,
    Retry,
    Tries,
    decide,
    too_old,
)
from flare.ids import new_request_id, new_trace_id
from flare.placement.router import Router
from flare.sandbox.invocation import Invocation
from flare.store.events import EventRow

log = logging.getLogger("flare.events")

MAX_ASYNC_PAYLOAD = 1024 * 1024
# Tries running at once, over all functions (the ledger still decides who may run).
MAX_WORKERS = 256
ReservedOf = Callable[[str], int | None]


class QueuedExecutions(Protocol):
    """The durable executions whose first invocation an Event invoke queued (``durable``)."""

    async def invoke_queued(self, request_id: str) -> bytes | None: ...

    def queue_gave_up(self, request_id: str, condition: str) -> None: ...


class AsyncQueue:
    """Queued async events by id; see the module docstring."""

    def __init__(
        self,
        book: EventBook,
        registry: Registry,
        router: Router,
        configs: InvokeConfigs,
        destinations: Destinations,
        reserved_of: ReservedOf,
        clock: Clock,
        base_delay_s: float,
    ) -> None:
        self._book = book
        self._registry = registry
        self._router = router
        self._configs = configs
        self._destinations = destinations
        self._reserved_of = reserved_of
        self._clock = clock
        self.base_delay_s = base_delay_s
        # event id => the timer that will start its next try
        self._timers: dict[str, TimerHandle] = {}
        # tries in progress
        self._tasks: set[asyncio.Task[None]] = set()
        self._workers = asyncio.Semaphore(MAX_WORKERS)
        # function name => its counters
        self.counters: dict[str, Counters] = {}
        self._stopped = False
        self.durable: QueuedExecutions | None = None  # set once the scope's durable executions exist
        destinations.submit = self.submit_to

    def __repr__(self) -> str:
        return f"<AsyncQueue waiting={len(self._timers)} trying={len(self._tasks)}>"

    def start(self) -> None:
        """Arm a timer for every stored event (those a crash interrupted are due again; in a
        cluster, those of any node as they fall due)."""
        self._stopped = False
        self._book.start(self._arm)

    async def stop(self) -> None:
        """Stop trying: timers are cancelled and tries in progress abandoned; their events stay
        stored and are tried again after the next start."""
        self._stopped = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._book.stop()

    # -- intake ---------------------------------------------------------------------------------

    def submit(
        self,
        version: FunctionVersion,
        qualifier: str | None,
        invoked_arn: str,
        payload: bytes,
        tenant_id: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Queue ``payload`` for ``version``'s function as invoked (``qualifier`` None when
        unqualified; ``tenant_id`` the tenant it was invoked for, if any) as ``request_id`` (a
        new one when None); durable when this returns. Returns the event's request id. Raises
        InvalidParameterValue when the tenant does not fit the function's tenancy
        (``tenancy.check_invocation``)."""
        row = self._new_event(version, qualifier, invoked_arn, payload, tenant_id, request_id)
        self._book.add(row)
        return self._accepted(row)

    async def accept(
        self,
        version: FunctionVersion,
        qualifier: str | None,
        invoked_arn: str,
        payload: bytes,
        tenant_id: str | None = None,
    ) -> str:
        """``submit`` for an Event invoke, without blocking the event loop on the book's write
        (a round trip to Redis in a cluster)."""
        row = self._new_event(version, qualifier, invoked_arn, payload, tenant_id, None)
        await self._book.accept(row)
        return self._accepted(row)

    def _new_event(
        self,
        version: FunctionVersion,
        qualifier: str | None,
        invoked_arn: str,
        payload: bytes,
        tenant_id: str | None,
        request_id: str | None,
    ) -> EventRow:
        tenancy.check_invocation(version.tenant_isolated, tenant_id)
        now = self._clock.wall()
        event_id = request_id or new_request_id()
        return EventRow(
            event_id, version.name, qualifier, invoked_arn, payload, now, now, tenant_id=tenant_id
        )

    def _accepted(self, row: EventRow) -> str:
        self._counters(row.function).received += 1
        self._arm(row.id, 0.0)
        return row.id

    def submit_to(self, function_arn: str, payload: bytes) -> str:
        """``submit`` by function name or ARN (a Lambda destination). Raises ResourceNotFound."""
        version, invoked_arn = self._registry.resolve_invocation(function_arn, None)
        qualifier = parse_function_name(function_arn, None)[1]
        return self.submit(version, qualifier, invoked_arn, payload)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per function: its counters, events waiting and the age of the oldest."""
        now = self._clock.wall()
        waiting = self._book.waiting()
        found: dict[str, dict[str, Any]] = {}
        for name in sorted(set(self.counters) | set(waiting)):
            counters = self._counters(name)
            count, oldest = waiting.get(name, (0, now))
            counters.oldest_age_s = round(max(0.0, now - oldest), 3)
            found[name] = {**counters.as_dict(), "waiting": count}
        return found

    # -- tries ----------------------------------------------------------------------------------

    def _counters(self, name: str) -> Counters:
        return self.counters.setdefault(name, Counters())

    def _arm(self, event_id: str, delay: float) -> None:
        if self._stopped:
            return
        old = self._timers.pop(event_id, None)
        if old is not None:
            old.cancel()
        self._timers[event_id] = self._clock.call_later(max(0.0, delay), lambda: self._due(event_id))

    def _due(self, event_id: str) -> None:
        self._timers.pop(event_id, None)
        task = asyncio.get_running_loop().create_task(self._run(event_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, event_id: str) -> None:
        async with self._workers:
            try:
                await self._handle(event_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("async event %s: unexpected failure; it stays queued", event_id)
                await self._release(event_id)
                self._arm(event_id, self.base_delay_s)

    async def _release(self, event_id: str) -> None:
        try:
            await self._book.release(event_id)
        except Exception:
            log.exception("async event %s: could not be released; another node takes it later", event_id)

    async def _handle(self, event_id: str) -> None:
        row = await self._book.take(event_id)
        if row is None:
            return
        try:
            version = self._registry.resolve(row.function, row.qualifier)
        except ResourceNotFound:
            log.warning("async event %s dropped: function %s is gone", row.id, row.function)
            await self._book.remove(row.id)
            return
        target = self._configs.target(row.function, row.qualifier)
        policy = Policy(target.max_retry_attempts, target.max_event_age_s, self.base_delay_s)
        tries = Tries(row.enqueued, row.function_errors, row.other_failures)
        if too_old(tries, policy, self._clock.wall()):
            await self._finish(row, version, target, EVENT_AGE_EXCEEDED, row.last or {"statusCode": 200}, 0)
            return
        if self._reserved_of(row.function) == 0:
            throttle = error_response(TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded"))
            await self._finish(row, version, target, RETRIES_EXHAUSTED, throttle, 1)
            return
        outcome, response = await self._try(version, row)
        counters = self._counters(row.function)
        if outcome is not Outcome.SUCCESS:
            counters.failed += 1
        decision = decide(tries, outcome, policy, self._clock.wall())
        invokes = row.function_errors + row.other_failures + 1
        if isinstance(decision, Retry):
            after = tries.after(outcome)
            due = self._clock.wall() + decision.delay_s
            await self._book.put_back(row.id, due, after.function_errors, after.other_failures, response)
            counters.retried += 1
            self._arm(row.id, decision.delay_s)
            return
        assert isinstance(decision, Done)
        await self._finish(row, version, target, decision.condition, response, invokes)

    async def _try(self, version: FunctionVersion, row: EventRow) -> tuple[Outcome, dict[str, Any]]:
        if version.durable_timeout_s is not None and self.durable is not None:
            return await self._try_durable(self.durable, version, row)
        # Lambda keeps the request id across retries; the sandbox refuses an answer to the id
        # it answered last, so a retry (which may land on the same environment) gets a fresh one.
        first = row.function_errors + row.other_failures == 0
        invocation = Invocation(
            request_id=row.id if first else new_request_id(),
            payload=row.payload,
            invoked_arn=row.invoked_arn,
            trace_id=new_trace_id(self._clock.wall()),
            tenant_id=row.tenant_id,
            source="async",
        )
        try:
            async with self._router.invoke(version, invocation) as result:
                response: dict[str, Any] = {
                    "statusCode": 200,
                    "executedVersion": result.executed_version,
                    "payload": result.payload.decode(errors="replace"),
                }
                if result.function_error:
                    response["functionError"] = result.function_error
                    return Outcome.FUNCTION_ERROR, response
                return Outcome.SUCCESS, response
        except TooManyRequests as error:
            return Outcome.THROTTLED, error_response(error)
        except FlareError as error:
            return Outcome.SYSTEM_ERROR, error_response(error)

    async def _try_durable(
        self, durable: QueuedExecutions, version: FunctionVersion, row: EventRow
    ) -> tuple[Outcome, dict[str, Any]]:
        """The first invocation of the durable execution ``row`` started."""
        answer = await durable.invoke_queued(row.id)
        if answer is None:
            return Outcome.THROTTLED, error_response(TooManyRequests("Rate exceeded"))
        response = {
            "statusCode": 200,
            "executedVersion": version.version,
            "payload": answer.decode(errors="replace"),
        }
        return Outcome.SUCCESS, response

    async def _finish(
        self,
        row: EventRow,
        version: FunctionVersion,
        target: Target,
        condition: str,
        response: dict[str, Any],
        invokes: int,
    ) -> None:
        """Deliver to the destinations the outcome calls for, then forget the event."""
        counters = self._counters(row.function)
        record = invocation_record(
            request_id=row.id,
            function_arn=f"{version.function_arn}:{row.qualifier or version.version}",
            condition=condition,
            invoke_count=invokes,
            request_payload=row.payload,
            response=response,
            now=self._clock.wall(),
        )
        if condition == SUCCESS:
            counters.succeeded += 1
            if target.on_success:
                self._destinations.send(target.on_success, record)
        else:
            counters.dead_lettered += 1
            if target.on_failure:
                self._destinations.send(target.on_failure, record)
            dead_letter = self._dead_letter_arn(version)
            if dead_letter:
                self._destinations.dead_letter(dead_letter, row.payload, row.id, response)
            log.info("async event %s of %s given up: %s", row.id, row.function, condition)
            if self.durable is not None:
                self.durable.queue_gave_up(row.id, condition)
        await self._book.remove(row.id)

    def _dead_letter_arn(self, version: FunctionVersion) -> str | None:
        try:
            config = self._registry.get_configuration(version.name, version.version)
        except ResourceNotFound:
            return None
        arn = (config.get("DeadLetterConfig") or {}).get("TargetArn")
        return str(arn) if arn else None
