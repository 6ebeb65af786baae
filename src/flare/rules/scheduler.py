"""Keep-warm schedules: EventBridge-style rules, run by the server, that invoke a function.

The seed's "poor man's provisioned concurrency": a rule such as ``rate(5 minutes)`` invokes the
function often enough that an environment stays warm. ``Schedules`` keeps them durable in
a ``ScheduleStorage`` and live as one clock timer each::

    _rules   id => Rule (the stored row, its parsed expression, its timer and last run)

When a timer fires, the rule is re-armed for its next time (computed from the time it was due,
so a rate does not drift; a time missed while the server was down is skipped, as EventBridge
does) and the function is invoked through the router like a synchronous invoke. The payload is
the rule's constant input, else EventBridge's ``Scheduled Event``. How the invoke ended (success,
function error, throttle, no environment) is kept as the rule's ``LastResult``; nothing is
retried. A function that is deleted takes its rules with it. Nodes of a cluster share the
schedules: each arms them all, and a firing runs where the store grants its claim
(``ScheduleStorage.claim``; one node alone is always granted); ``sync`` arms and disarms what
another node added or removed.

Every timer goes through the injected clock: ``clock.wall()`` for the schedule's times,
``clock.call_later`` to wait for them. Contract: used from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from flare.clock import Clock, TimerHandle
from flare.control import tenancy
from flare.control.arns import parse_function_name
from flare.control.registry import Registry
from flare.errors import FlareError, InvalidParameterValue, ResourceNotFound
from flare.placement.router import Router
from flare.rules.expression import Expression, next_fire, parse
from flare.sandbox.invocation import Invocation
from flare.store.schedules import ScheduleRow
from flare.store.storage import ScheduleStorage

log = logging.getLogger("flare.rules")

MAX_INPUT_BYTES = 8192  # EventBridge's limit on a target's constant input


def iso(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled_event(rule_arn: str, region: str, account_id: str, due: float) -> bytes:
    """EventBridge's ``Scheduled Event`` for a rule that fired at ``due``."""
    event: dict[str, Any] = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": iso(due),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }
    return json.dumps(event).encode()


def check_input(value: object) -> str | None:
    """A rule's constant input: None, or JSON text of at most 8 KB."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value.encode()) > MAX_INPUT_BYTES:
        raise InvalidParameterValue(f"Input must be JSON text of at most {MAX_INPUT_BYTES} bytes")
    try:
        json.loads(value)
    except ValueError as error:
        raise InvalidParameterValue(f"Input is not valid JSON: {error}") from None
    return value


@dataclass
class Rule:
    """A stored schedule, live: its parsed expression, next time, timer and last run."""

    row: ScheduleRow
    expression: Expression
    next_run: float | None = None
    timer: TimerHandle | None = None
    last_run: float | None = None
    last_result: str | None = None
    runs: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Schedules:
    """Keep-warm schedules by id (see the module docstring)."""

    def __init__(
        self,
        store: ScheduleStorage,
        registry: Registry,
        router: Router,
        clock: Clock,
        region: str,
        account_id: str,
    ) -> None:
        self._store = store
        self._registry = registry
        self._router = router
        self._clock = clock
        self._region = region
        self._account_id = account_id
        # id => live rule
        self._rules: dict[str, Rule] = {}
        self._started = False

    def __repr__(self) -> str:
        return f"<Schedules {len(self._rules)}>"

    def start(self) -> None:
        """Load the stored schedules and arm them. Call once, inside the event loop, after
        ``Registry.load``."""
        for row in self._store.all():
            self._rules[row.id] = Rule(row, parse(row.expression))
        self._started = True
        for rule in self._rules.values():
            self._arm(rule, self._clock.wall())

    async def stop(self) -> None:
        """Disarm every timer and wait for invokes in flight."""
        self._started = False
        tasks: list[asyncio.Task[None]] = []
        for rule in self._rules.values():
            if rule.timer is not None:
                rule.timer.cancel()
            tasks += rule.tasks
        await asyncio.gather(*tasks, return_exceptions=True)

    def add(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a schedule from ``{"FunctionName", "ScheduleExpression", "Input"?}``.

        Raises InvalidParameterValue (a missing field, an expression that is invalid or never
        fires, bad input), ResourceNotFound (the function or its qualifier).
        """
        function_name = body.get("FunctionName")
        text = body.get("ScheduleExpression")
        if not isinstance(function_name, str) or not function_name:
            raise InvalidParameterValue("FunctionName is required")
        if not isinstance(text, str) or not text:
            raise InvalidParameterValue("ScheduleExpression is required")
        expression = parse(text)
        payload = check_input(body.get("Input"))
        name, qualifier = parse_function_name(function_name, None)
        target = self._registry.resolve(name, qualifier)
        tenancy.refuse(tenancy.Feature.SCHEDULE, target.tenant_isolated)
        now = self._clock.wall()
        if next_fire(expression, now, now) is None:
            raise InvalidParameterValue(f"Parameter ScheduleExpression is not valid: {text} never fires")
        row = ScheduleRow(uuid.uuid4().hex[:12], name, qualifier, expression.text, payload, now)
        self._store.put(row)
        rule = self._rules[row.id] = Rule(row, expression)
        if self._started:
            self._arm(rule, now)
        return self._describe(rule)

    def list(self) -> dict[str, Any]:
        return {"Schedules": [self._describe(rule) for rule in self._rules.values()]}

    def get(self, schedule_id: str) -> dict[str, Any]:
        """Raises ResourceNotFound."""
        return self._describe(self._existing(schedule_id))

    def remove(self, schedule_id: str) -> None:
        """Delete a schedule; an invoke in flight finishes. Raises ResourceNotFound."""
        rule = self._existing(schedule_id)
        self._store.delete(schedule_id)
        del self._rules[schedule_id]
        if rule.timer is not None:
            rule.timer.cancel()

    def sync(self) -> None:
        """Another node added or removed schedules: arm the new ones, disarm the gone ones."""
        stored = {row.id: row for row in self._store.all()}
        for schedule_id in [known for known in self._rules if known not in stored]:
            rule = self._rules.pop(schedule_id)
            if rule.timer is not None:
                rule.timer.cancel()
        for schedule_id, row in stored.items():
            if schedule_id not in self._rules:
                rule = self._rules[schedule_id] = Rule(row, parse(row.expression))
                if self._started:
                    self._arm(rule, self._clock.wall())

    def function_changed(self, name: str) -> None:
        """Registry listener: a deleted function takes its schedules with it."""
        try:
            self._registry.resolve(name, None)
        except ResourceNotFound:
            for rule in [rule for rule in self._rules.values() if rule.row.function == name]:
                log.info("function %s is gone: removing schedule %s", name, rule.row.id)
                self.remove(rule.row.id)

    # -- internals ------------------------------------------------------------------------------

    def _existing(self, schedule_id: str) -> Rule:
        rule = self._rules.get(schedule_id)
        if rule is None:
            raise ResourceNotFound(f"Schedule not found: {schedule_id}")
        return rule

    def _arm(self, rule: Rule, after: float) -> None:
        rule.next_run = next_fire(rule.expression, after, rule.row.created)
        if rule.next_run is None:
            rule.timer = None
            return
        due = rule.next_run
        rule.timer = self._clock.call_later(due - self._clock.wall(), lambda: self._fire(rule, due))

    def _fire(self, rule: Rule, due: float) -> None:
        if rule.row.id not in self._rules or not self._started:
            return
        self._arm(rule, max(due, self._clock.wall()))
        if not self._store.claim(rule.row.id, due):  # another node runs this one
            return
        task = asyncio.get_running_loop().create_task(self._run(rule, due))
        rule.tasks.add(task)
        task.add_done_callback(rule.tasks.discard)

    async def _run(self, rule: Rule, due: float) -> None:
        row = rule.row
        rule.last_run, rule.runs = due, rule.runs + 1
        rule_arn = f"arn:aws:events:{self._region}:{self._account_id}:rule/flare-schedule-{row.id}"
        payload = row.input.encode() if row.input is not None else None
        try:
            version, invoked_arn = self._registry.resolve_invocation(row.function, row.qualifier)
            invocation = Invocation(
                request_id=str(uuid.uuid4()),
                payload=payload or scheduled_event(rule_arn, self._region, self._account_id, due),
                invoked_arn=invoked_arn,
                trace_id=f"Root=1-{int(due):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                source="schedule",
            )
            async with self._router.invoke(version, invocation) as result:
                error = result.function_error
                rule.last_result = "Succeeded" if error is None else f"FunctionError: {error}"
        except FlareError as error:
            reason = error.extra.get("Reason")
            rule.last_result = f"{error.aws_name}: {reason or error.message}"
        log.debug("schedule %s ran %s: %s", row.id, row.function, rule.last_result)

    def _describe(self, rule: Rule) -> dict[str, Any]:
        row = rule.row
        described: dict[str, Any] = {
            "Id": row.id,
            "FunctionName": row.function,
            "ScheduleExpression": row.expression,
            "State": "ENABLED",
            "CreatedAt": iso(row.created),
            "NextRun": iso(rule.next_run),
            "LastRun": iso(rule.last_run),
            "LastResult": rule.last_result,
            "Runs": rule.runs,
        }
        if row.qualifier is not None:
            described["Qualifier"] = row.qualifier
        if row.input is not None:
            described["Input"] = row.input
        return described
