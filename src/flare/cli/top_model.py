"""What ``flare top`` shows, computed from the live feed's events: pure, no I/O, no clock.

``TopModel.apply(event, now)`` takes one wire event (``api/live.py``) seen at ``now`` (any
monotonic seconds); ``rows(now, sort)`` answers one ``TopRow`` per function: its environments
by phase, invocations per second, duration p50/p99, cold-start rate and throttles over the last
``WINDOW_S`` seconds, and the memory its live environments hold. A snapshot (the stream's first
event, and after a drop) replaces every environment.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from typing import Any

WINDOW_S = 10.0
INITIALIZING = frozenset({"starting", "initializing", "restoring"})
GONE = "gone"


@dataclass(frozen=True)
class TopRow:
    function: str
    environments: int
    initializing: int
    busy: int
    idle: int  # idle or frozen
    invocations_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    cold_rate: float | None  # cold or restore starts per invocation
    throttles: int
    memory_mb: int
    cost_usd: float  # since top started: what its invocations would cost on Lambda


SORTS: dict[str, tuple[str, bool]] = {
    "f": ("function", False),
    "e": ("environments", True),
    "i": ("invocations_per_s", True),
    "p": ("p99_ms", True),
    "c": ("cold_rate", True),
    "t": ("throttles", True),
    "m": ("memory_mb", True),
    "$": ("cost_usd", True),
}
"""Key => (the ``TopRow`` field it sorts by, descending)."""


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank ``p``th percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class _Function:
    environments: dict[str, tuple[str, int]] = field(default_factory=dict)  # id => (phase, memory)
    invocations: collections.deque[tuple[float, float, bool]] = field(default_factory=collections.deque)
    throttles: collections.deque[float] = field(default_factory=collections.deque)
    cost_usd: float = 0.0

    def forget_before(self, since: float) -> None:
        while self.invocations and self.invocations[0][0] < since:
            self.invocations.popleft()
        while self.throttles and self.throttles[0] < since:
            self.throttles.popleft()


class TopModel:
    """See the module docstring."""

    def __init__(self) -> None:
        self._functions: dict[str, _Function] = collections.defaultdict(_Function)

    def apply(self, event: dict[str, Any], now: float) -> None:
        kind = event.get("kind")
        if kind == "snapshot":
            for function in self._functions.values():
                function.environments.clear()
            for env in event.get("environments", []):
                self._environment(env)
        elif kind == "environment":
            self._environment(event)
        elif kind == "invocation":
            cold = event.get("start") in ("cold", "restore")
            function = self._functions[event["function"]]
            function.invocations.append((now, float(event["duration_ms"]), cold))
            function.cost_usd += float(event.get("cost_usd", 0.0))
        elif kind == "throttle":
            self._functions[event["function"]].throttles.append(now)

    def _environment(self, env: dict[str, Any]) -> None:
        environments = self._functions[env["function"]].environments
        if env["phase"] == GONE:
            environments.pop(env["environment_id"], None)
        else:
            environments[env["environment_id"]] = (env["phase"], int(env.get("memory_mb", 0)))

    def rows(self, now: float, sort: str = "f") -> list[TopRow]:
        """One row per function seen, sorted by ``SORTS[sort]`` (a missing value last)."""
        rows = []
        for name, function in self._functions.items():
            function.forget_before(now - WINDOW_S)
            rows.append(_row(name, function))
        field_name, descending = SORTS.get(sort, SORTS["f"])

        def key(row: TopRow) -> tuple[bool, Any, str]:
            value = getattr(row, field_name)
            if value is None:
                return (True, 0, row.function)
            return (False, -value if descending else value, row.function)

        return sorted(rows, key=key)


def _row(name: str, function: _Function) -> TopRow:
    phases = [phase for phase, _ in function.environments.values()]
    durations = [duration for _, duration, _ in function.invocations]
    count = len(durations)
    colds = sum(1 for _, _, cold in function.invocations if cold)
    return TopRow(
        name,
        len(phases),
        sum(1 for phase in phases if phase in INITIALIZING),
        phases.count("busy"),
        sum(1 for phase in phases if phase in ("idle", "frozen")),
        count / WINDOW_S,
        percentile(durations, 50),
        percentile(durations, 99),
        colds / count if count else None,
        len(function.throttles),
        sum(memory for _, memory in function.environments.values()),
        function.cost_usd,
    )
