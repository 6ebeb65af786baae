"""What the parts of ``DurableExecutions`` (the actor of ``executions``; ``invocations``,
``controls``, ``answers`` and ``homecoming`` are parts of it, kept apart for size) share: its
state and the methods each part calls on the whole. ``DurableExecutions`` sets the state and
overrides every method here."""

from __future__ import annotations

import asyncio
from typing import Any

from flare.clock import Clock
from flare.control.model import FunctionVersion
from flare.control.registry import Registry
from flare.durable.homes import ExecutionHomes
from flare.durable.status import Status
from flare.durable.timers import Timers
from flare.placement.router import Router
from flare.store.durable import ExecutionRow
from flare.store.storage import DurableStorage


class ExecutionHooks:
    """The state and methods of ``DurableExecutions`` its parts use (see the module docstring)."""

    _store: DurableStorage
    _homes: ExecutionHomes
    _registry: Registry
    _router: Router
    _clock: Clock
    _timers: Timers
    _invoking: set[str]  # executions with an invocation in flight
    _tasks: set[asyncio.Task[None]]
    _again: set[str]  # executions woken while invoking: invoke again once it ends
    _throttles: dict[str, int]  # arn => throttled invocations in a row
    _waiters: dict[str, list[asyncio.Future[ExecutionRow]]]  # invokes waiting for an end

    def start_execution(
        self, version: FunctionVersion, name: str | None, payload: bytes, synchronous: bool = False
    ) -> tuple[ExecutionRow, bool]:
        raise NotImplementedError

    async def wait_for(self, arn: str) -> ExecutionRow:
        raise NotImplementedError

    def _existing(self, arn: str) -> ExecutionRow:
        raise NotImplementedError

    def _spawn(self, arn: str) -> None:
        raise NotImplementedError

    def _end(self, arn: str, status: Status, result: str | None, error: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def _arm_deadline(self, row: ExecutionRow) -> None:
        raise NotImplementedError

    def _arm_wake(self, arn: str) -> bool:
        raise NotImplementedError

    def _forget(self, arn: str) -> None:
        raise NotImplementedError

    def _now_paused(self, row: ExecutionRow, owed: bool) -> ExecutionRow:
        raise NotImplementedError

    def _spawn_chained(self, arn: str, operation_id: str) -> None:
        raise NotImplementedError

    def _answer_waiters(self, row: ExecutionRow) -> None:
        raise NotImplementedError

    def _sweep(self) -> None:
        raise NotImplementedError
