"""A bell per name that long-polling readers wait on and writers ring.

A reader that found nothing calls ``await bell.wait(name, timeout)``; it returns ``True`` when
someone rang ``name`` and ``False`` when ``timeout`` seconds of the injected clock passed first.
Ringing wakes every reader waiting on that name; each then looks again and, if it lost the race,
waits again for what is left of its own deadline. Nothing blocks the event loop: a waiter is a
future, its timeout a ``Clock.call_later`` timer. Use from the event loop's thread only.
"""

from __future__ import annotations

import asyncio

from flare.clock import Clock


class Bell:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # name => futures of the readers waiting on it
        self._waiters: dict[str, set[asyncio.Future[bool]]] = {}

    def __repr__(self) -> str:
        return f"<Bell waiting={self.waiting()}>"

    def waiting(self, name: str | None = None) -> int:
        """How many readers wait on ``name`` (on any name when None)."""
        if name is not None:
            return len(self._waiters.get(name, ()))
        return sum(len(waiters) for waiters in self._waiters.values())

    async def wait(self, name: str, timeout: float) -> bool:
        """Wait until ``name`` is rung (True) or ``timeout`` clock seconds pass (False)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def expire() -> None:
            if not future.done():
                future.set_result(False)

        waiters = self._waiters.setdefault(name, set())
        waiters.add(future)
        timer = self._clock.call_later(timeout, expire)
        try:
            return await future
        finally:
            timer.cancel()
            waiters.discard(future)
            if not waiters and self._waiters.get(name) is waiters:
                del self._waiters[name]

    def ring(self, name: str) -> None:
        """Wake every reader waiting on ``name``."""
        for future in self._waiters.get(name, ()):
            if not future.done():
                future.set_result(True)

    def ring_all(self) -> None:
        """Wake every reader (used at shutdown so no long poll outlives the server)."""
        for name in list(self._waiters):
            self.ring(name)
