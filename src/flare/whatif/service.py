"""Service times for the model, read from a recorded trace.

Trace-driven: an arrival keeps its own recorded duration (REPORT's Duration), and, when the
model starts it the way it was started when recorded, its own INIT or restore time and its own
overhead (latency minus duration minus INIT or restore: the engine's part, cold or warm).
Otherwise the time is drawn (seeded) from what the trace recorded for the same function
version: INIT times of its cold starts, restore times of its restores, durations of its
answered invocations, overheads of its invocations started that way; from every version's when
it has none, and for a restore nothing recorded anywhere, ``MEASURED_RESTORE_MS``.

A memory what-if scales duration by the CPU share (``cpu_share``: MemorySize/1769 of one vCPU,
at most one, as the sandbox's cgroups give it): this assumes the work is CPU-bound and
single-threaded, so I/O-bound work is predicted slower at less memory and faster at more than
it would be, and so is work whose recorded duration was stretched by a busy host (the scaling
keeps the stretch). INIT is not scaled (it runs with burst CPU).
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict

from flare.errors import TraceRefused
from flare.observe.trace_format import Record
from flare.sandbox import cgroups

# Flare's REPORT Restore Duration, p50 (bench/RESULTS.md, "SnapStart: restore cold start vs INIT
# cold start": 0.83 and 0.94 ms for its two functions).
MEASURED_RESTORE_MS = 0.9

GroupKey = tuple[str, str, str, str]  # account, region, function, version


def group_of(record: Record) -> GroupKey:
    return (record.account, record.region, record.function, record.version)


def cpu_share(memory_mb: int) -> float:
    """The vCPU a function of ``memory_mb`` gets, as far as one thread can use it: the
    sandbox's own CPU model (``sandbox.cgroups.cpu_share``) on one CPU."""
    return cgroups.cpu_share(memory_mb, host_cpus=1)


def overhead_of(record: Record) -> float | None:
    """The engine's part of ``record``'s latency (None when it was not answered)."""
    if record.latency_ms is None or record.duration_ms is None:
        return None
    spent = record.duration_ms + (record.init_ms or 0.0) + (record.restore_ms or 0.0)
    return max(0.0, record.latency_ms - spent)


class _Samples:
    """What one group (or all of them) recorded."""

    def __init__(self) -> None:
        self.inits: list[float] = []
        self.restores: list[float] = []
        self.durations: list[float] = []
        self.overheads: defaultdict[str, list[float]] = defaultdict(list)

    def add(self, record: Record) -> None:
        if record.start == "cold" and record.init_ms is not None:
            self.inits.append(record.init_ms)
        if record.start == "restore" and record.restore_ms is not None:
            self.restores.append(record.restore_ms)
        if record.duration_ms is not None:
            self.durations.append(record.duration_ms)
        overhead = overhead_of(record)
        if overhead is not None and record.start is not None:
            self.overheads[record.start].append(overhead)


class ServiceTimes:
    """The trace's service times (see the module docstring); draws are seeded by ``seed``."""

    def __init__(self, records: list[Record], seed: int = 0) -> None:
        self._seed = seed
        self._random = random.Random(seed)
        self._all = _Samples()
        self._groups: defaultdict[GroupKey, _Samples] = defaultdict(_Samples)
        self._medians: dict[tuple[GroupKey, str], float] = {}  # (group, start) => overhead
        for record in records:
            self._all.add(record)
            self._groups[group_of(record)].add(record)
        if not self._all.durations:
            raise TraceRefused("the trace has no answered invocation: nothing to take durations from")

    def reseed(self) -> None:
        """Draw again from the start (each scenario's replay draws the same times)."""
        self._random = random.Random(self._seed)

    def duration_ms(self, record: Record, group: GroupKey, memory_mb: int) -> float:
        """``record``'s (of ``group``) duration at ``memory_mb`` (its own, or a draw for a
        throttled one)."""
        duration = record.duration_ms
        if duration is None:
            duration = self._draw(group, "durations")
        return duration * cpu_share(record.memory_mb) / cpu_share(memory_mb)

    def start_ms(self, record: Record, group: GroupKey, start: str, restore_ms: float | None = None) -> float:
        """INIT (``cold``) or restore (``restore``) time of ``record`` (of ``group``) started as
        ``start``; 0 for a warm or provisioned start. ``restore_ms`` replaces every restore time."""
        if start == "cold":
            if record.start == "cold" and record.init_ms is not None:
                return record.init_ms
            return self._draw(group, "inits")
        if start == "restore":
            if restore_ms is not None:
                return restore_ms
            if record.start == "restore" and record.restore_ms is not None:
                return record.restore_ms
            if self._groups[group].restores or self._all.restores:
                return self._draw(group, "restores")
            return MEASURED_RESTORE_MS
        return 0.0

    def overhead_ms(self, record: Record, group: GroupKey, start: str) -> float:
        """The engine's part of the latency of ``record`` (of ``group``) started as ``start``."""
        if record.start == start:
            own = overhead_of(record)
            if own is not None:
                return own
        median = self._medians.get((group, start))
        if median is None:
            median = self._medians[(group, start)] = self._median_overhead(group, start)
        return median

    def _median_overhead(self, group: GroupKey, start: str) -> float:
        """The median overhead of ``group``'s starts of kind ``start`` (else of its warm ones,
        else of every group's), 0 when nothing was recorded."""
        for samples in (self._groups[group], self._all):
            for kind in (start, "warm"):
                found = samples.overheads.get(kind)
                if found:
                    return statistics.median(found)
        return 0.0

    def _draw(self, group: GroupKey, kind: str) -> float:
        for samples in (self._groups[group], self._all):
            values: list[float] = getattr(samples, kind)
            if values:
                return self._random.choice(values)
        what = {"inits": "INIT", "restores": "restore", "durations": "duration"}[kind]
        raise TraceRefused(f"the trace recorded no {what} time for {group[2]} or any other function")
