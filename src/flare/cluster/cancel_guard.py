"""Cancellation that survives redis-py's asyncio client.

A task cancelled while it awaits a redis-py (8.2) asyncio command may not see the
``CancelledError``: in a loop of commands cancelled at random points, about half of the
cancellations were lost (the command returned or raised a RedisError, and ``Task.cancelling()``
stayed 1). A loop around such a command then never ends, and whoever awaits it after cancelling
(a node's shutdown) waits forever. ``guarded`` awaits a command and raises ``CancelledError``
whenever the task was cancelled meanwhile, whatever the command did.

It also gives the command a task when it has none: the front door runs a request's first step
by hand, outside any task (``api/front_door.py`` ``start_now``), and redis-py's timeouts
(``asyncio.timeout``, on every new connection) raise "Timeout should be used inside a task"
there: after a Redis restart, an Event invoke on a cluster node failed with a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


def cancelling() -> bool:
    """Whether the running task has been asked to stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def in_a_task(command: Awaitable[T]) -> Awaitable[T]:
    """``command``, in a task of its own when no task is running (see the module)."""
    return asyncio.ensure_future(command) if asyncio.current_task() is None else command


async def guarded(command: Awaitable[T]) -> T:
    """``await command`` (in a task of its own when there is none); CancelledError if the task
    was cancelled meanwhile (see the module)."""
    command = in_a_task(command)
    try:
        result = await command
    except Exception:
        if cancelling():
            raise asyncio.CancelledError() from None
        raise
    if cancelling():
        raise asyncio.CancelledError()
    return result
