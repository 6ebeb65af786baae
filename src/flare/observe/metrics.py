"""Prometheus metrics named after CloudWatch's Lambda metrics, at ``GET /metrics``.

Per function (and executed version): ``flare_invocations_total``, ``flare_errors_total``
(function errors), ``flare_throttles_total`` and the ``flare_duration_milliseconds`` histogram;
``flare_concurrent_executions`` (environments busy now, from the pool). Event sources add
``flare_event_source_*`` counters per mapping and per async queue. What the work would
cost on Lambda (``bill.py``, ``pricing.py``): ``flare_cost_usd_total{account, region,
function, component}`` and ``flare_account_cost_usd_total{account, component}``, component one of
``requests``, ``duration``, ``init``, ``provisioned``, ``ephemeral_storage``. The text is written by hand
(the format is a few lines, and the core stays import-light); recording an invocation is a
couple of dict updates on the invoke path.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flare.observe.bill import Bill

BUCKETS_MS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000)
SOURCE_COUNTERS = ("received", "succeeded", "failed", "filtered", "retried", "dead_lettered")


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_MS))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(BUCKETS_MS, value)
        if index < len(self.buckets):
            self.buckets[index] += 1
        self.count += 1
        self.total += value


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


class Metrics:
    """Counters since start-up. ``busy`` tells the environments busy now (a gauge)."""

    def __init__(self, busy: Callable[[], int] = lambda: 0, bill: Bill | None = None) -> None:
        self._busy = busy
        self.bill = bill
        self._invocations: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._errors: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._throttles: defaultdict[str, int] = defaultdict(int)
        self._durations: defaultdict[tuple[str, str], _Histogram] = defaultdict(_Histogram)
        self._sources: list[Callable[[], Iterable[tuple[dict[str, str], dict[str, Any]]]]] = []
        self._durable: list[Callable[[], Iterable[tuple[dict[str, str], int]]]] = []

    def invoked(self, function: str, version: str, function_error: bool, duration_ms: float) -> None:
        key = (function, version)
        self._invocations[key] += 1
        if function_error:
            self._errors[key] += 1
        self._durations[key].observe(duration_ms)

    def throttled(self, function: str) -> None:
        self._throttles[function] += 1

    def add_source(self, source: Callable[[], Iterable[tuple[dict[str, str], dict[str, Any]]]]) -> None:
        """``source()`` yields ``(labels, counters)`` pairs for ``flare_event_source_*``."""
        self._sources.append(source)

    def add_durable_source(self, source: Callable[[], Iterable[tuple[dict[str, str], int]]]) -> None:
        """``source()`` yields ``(labels, count)`` pairs for ``flare_durable_executions``."""
        self._durable.append(source)

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        lines: list[str] = []
        for name, help_text, values in (
            ("flare_invocations_total", "Invocations, as CloudWatch's Invocations", self._invocations),
            ("flare_errors_total", "Invocations that ended in a function error", self._errors),
        ):
            lines += [f"# HELP {name} {help_text}.", f"# TYPE {name} counter"]
            lines += [f"{name}{_labels(function=f, version=v)} {n}" for (f, v), n in sorted(values.items())]
        lines += [
            "# HELP flare_throttles_total Invocations refused with 429.",
            "# TYPE flare_throttles_total counter",
        ]
        lines += [
            f"flare_throttles_total{_labels(function=f)} {n}" for f, n in sorted(self._throttles.items())
        ]
        lines += self._render_durations()
        lines += [
            "# HELP flare_concurrent_executions Environments busy with an invocation now.",
            "# TYPE flare_concurrent_executions gauge",
            f"flare_concurrent_executions {self._busy()}",
        ]
        lines += self._render_sources()
        lines += self._render_cost()
        name = "flare_durable_executions"
        lines += [f"# HELP {name} Durable executions kept, by function and status.", f"# TYPE {name} gauge"]
        lines += [
            f"{name}{_labels(**labels)} {count}" for source in self._durable for labels, count in source()
        ]
        return "\n".join(lines) + "\n"

    def _render_durations(self) -> list[str]:
        name = "flare_duration_milliseconds"
        lines = [f"# HELP {name} Invocation duration, as REPORT's Duration.", f"# TYPE {name} histogram"]
        for (function, version), histogram in sorted(self._durations.items()):
            cumulative = 0
            for bound, count in zip(BUCKETS_MS, histogram.buckets, strict=True):
                cumulative += count
                labels = _labels(function=function, version=version, le=str(bound))
                lines.append(f"{name}_bucket{labels} {cumulative}")
            labels = _labels(function=function, version=version, le="+Inf")
            lines.append(f"{name}_bucket{labels} {histogram.count}")
            base = _labels(function=function, version=version)
            lines += [f"{name}_sum{base} {histogram.total:.3f}", f"{name}_count{base} {histogram.count}"]
        return lines

    def _render_cost(self) -> list[str]:
        if self.bill is None:
            return []
        name = "flare_cost_usd_total"
        lines = [
            f"# HELP {name} What the invocations would cost on Lambda, in USD.",
            f"# TYPE {name} counter",
        ]
        lines += [
            f"{name}{_labels(account=a, region=r, function=f, component=c)} {usd:.10f}"
            for (a, r, f, c), usd in sorted(self.bill.totals().items())
        ]
        name = "flare_account_cost_usd_total"
        lines += [
            f"# HELP {name} What an account's work would cost on Lambda, in USD.",
            f"# TYPE {name} counter",
        ]
        lines += [
            f"{name}{_labels(account=a, component=c)} {usd:.10f}"
            for (a, c), usd in sorted(self.bill.by_account().items())
        ]
        return lines

    def _render_sources(self) -> list[str]:
        rows = [row for source in self._sources for row in source()]
        lines: list[str] = []
        for counter in SOURCE_COUNTERS:
            name = f"flare_event_source_{counter}_total"
            lines += [
                f"# HELP {name} Event source {counter.replace('_', ' ')} (mappings and async queues).",
                f"# TYPE {name} counter",
            ]
            lines += [
                f"{name}{_labels(**labels)} {int(counters.get(counter, 0))}" for labels, counters in rows
            ]
        name = "flare_event_source_oldest_age_seconds"
        lines += [f"# HELP {name} Age of the oldest waiting event or record.", f"# TYPE {name} gauge"]
        lines += [
            f"{name}{_labels(**labels)} {float(counters.get('oldest_age_s', 0.0))}"
            for labels, counters in rows
        ]
        return lines
