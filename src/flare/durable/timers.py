"""The timers of durable executions, on the engine's clock: per execution, at most one of each
kind (``WAKE``: its earliest wait, retry or callback deadline; ``DEADLINE``: its
ExecutionTimeout; ``RETRY``: its next try after an invocation error or a throttle), and one
``SWEEP`` of them all (retention). Setting one replaces the one of its kind; a timer forgets
itself when it fires. Used from the event loop's thread."""

from __future__ import annotations

from collections.abc import Callable

from flare.clock import Clock, TimerHandle

WAKE = "wake"
DEADLINE = "deadline"
RETRY = "retry"
SWEEP = "sweep"  # of every execution: arn ""


class Timers:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._handles: dict[tuple[str, str], TimerHandle] = {}  # (arn, kind) => its timer

    def __len__(self) -> int:
        return len(self._handles)

    def set_at(self, arn: str, kind: str, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` at wall time ``when`` (at once if it has passed)."""
        self.cancel(arn, kind)
        key = (arn, kind)

        def fire() -> None:
            self._handles.pop(key, None)
            callback()

        self._handles[key] = self._clock.call_later(when - self._clock.wall(), fire)

    def cancel(self, arn: str, kind: str | None = None) -> None:
        """Cancel ``arn``'s timer of ``kind``, or all of them."""
        for key in [key for key in self._handles if key[0] == arn and kind in (None, key[1])]:
            self._handles.pop(key).cancel()

    def close(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
