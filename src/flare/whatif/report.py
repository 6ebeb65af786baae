"""A replay's figures per scenario, side by side: as a table, as JSON, as a chart.

The first column is what the trace itself recorded (measured); the next, the model under the
recorded configuration (how far the model is from the measurement); then each what-if.
Percentiles are nearest-rank over answered invocations (throttles have no latency). The cold-
start rate is cold starts (INIT or restore) over answered invocations. Cost is ``billing``'s,
with provisioned concurrency billed over the trace's span rounded up to 5 minutes, as AWS bills
it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flare.observe.trace_format import Record
from flare.whatif import billing
from flare.whatif.model import Replayed
from flare.whatif.scenario import FunctionConfig
from flare.whatif.service import GroupKey, group_of

PROVISIONED_BILLING_S = 300


@dataclass(frozen=True)
class Summary:
    """One scenario's figures."""

    scenario: str
    invocations: int
    answered: int
    cold_starts: int
    restores: int
    throttles: int
    p50_ms: float | None
    p99_ms: float | None
    cost_usd: float

    @property
    def cold_start_rate(self) -> float:
        return self.cold_starts / self.answered if self.answered else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "cold_start_rate": round(self.cold_start_rate, 6)}


def recorded(records: Iterable[Record]) -> list[Replayed]:
    """The trace's own outcomes, in the model's shape."""
    return [
        Replayed(
            record,
            record.start,
            record.latency_ms,
            record.duration_ms,
            (record.init_ms or 0.0) if record.start == "cold" else (record.restore_ms or 0.0),
            record.reason,
        )
        for record in records
    ]


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of ``ordered`` (sorted); None when empty."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def billed_span_s(records: list[Record]) -> float:
    """The trace's span (first to last arrival), rounded up to AWS's 5 minutes."""
    if not records:
        return 0.0
    span = records[-1].t - records[0].t
    return max(1, math.ceil(span / PROVISIONED_BILLING_S)) * PROVISIONED_BILLING_S


def summarise(name: str, replayed: list[Replayed], configs: dict[GroupKey, FunctionConfig]) -> Summary:
    """``replayed``'s figures, priced under ``configs``."""
    latencies = sorted(
        item.latency_ms for item in replayed if item.start is not None and item.latency_ms is not None
    )
    starts = [item.start for item in replayed]
    return Summary(
        scenario=name,
        invocations=len(replayed),
        answered=sum(1 for start in starts if start is not None),
        cold_starts=sum(1 for start in starts if start in ("cold", "restore")),
        restores=starts.count("restore"),
        throttles=starts.count(None),
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        cost_usd=_cost(replayed, configs),
    )


def _cost(replayed: list[Replayed], configs: dict[GroupKey, FunctionConfig]) -> float:
    # version group => [requests, on-demand billed ms, init ms, provisioned billed ms]
    usage: defaultdict[GroupKey, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for item in replayed:
        if item.start is None or item.duration_ms is None:
            continue
        totals = usage[group_of(item.record)]
        totals[0] += 1
        billed = max(1, math.ceil(item.duration_ms))
        totals[3 if item.start == "provisioned" else 1] += billed
        totals[2] += item.start_ms
    span = billed_span_s([item.record for item in replayed])
    total = 0.0
    for group, config in configs.items():
        requests, billed_ms, init_ms, provisioned_ms = usage.get(group, [0, 0.0, 0.0, 0.0])
        provisioned_gb_s = config.provisioned * config.memory_mb / 1024 * span
        total += billing.cost_usd(
            config.memory_mb,
            config.architecture,
            billed_ms,
            init_ms,
            provisioned_gb_s,
            int(requests),
            provisioned_ms,
        )
    return total


ROWS: tuple[tuple[str, str], ...] = (
    ("invocations", "invocations"),
    ("cold starts", "cold_starts"),
    ("  of which restores", "restores"),
    ("cold-start rate", "cold_start_rate"),
    ("p50 latency (ms)", "p50_ms"),
    ("p99 latency (ms)", "p99_ms"),
    ("throttles", "throttles"),
    ("cost (USD)", "cost_usd"),
)


def _cell(field: str, value: Any) -> str:
    if value is None:
        return "-"
    if field == "cold_start_rate":
        return f"{value * 100:.1f} %"
    if field == "cost_usd":
        return f"{value:.6f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def table(summaries: list[Summary]) -> str:
    """The figures as a text table, a column per scenario."""
    header = ["", *(summary.scenario for summary in summaries)]
    rows = [header]
    for label, field in ROWS:
        rows.append([label, *(_cell(field, getattr(summary, field)) for summary in summaries)])
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def plot(summaries: list[Summary], path: Path) -> None:
    """A chart of the figures per scenario at ``path`` (PNG): cold-start rate, p50 and p99
    latency, throttles and cost. Needs matplotlib (``pip install 'flare[charts]'``); raises
    ImportError without it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [summary.scenario for summary in summaries]
    positions = list(range(len(names)))
    figure, axes = plt.subplots(2, 2, figsize=(max(8, 2.2 * len(names)), 7))
    panels: list[tuple[Any, str, list[float]]] = [
        (axes[0][0], "cold-start rate (%)", [summary.cold_start_rate * 100 for summary in summaries]),
        (axes[1][0], "throttles", [float(summary.throttles) for summary in summaries]),
        (axes[1][1], "cost (USD)", [summary.cost_usd for summary in summaries]),
    ]
    for axis, title, values in panels:
        axis.bar(positions, values, color="tab:blue")
        axis.set_title(title)
    latency = axes[0][1]
    width = 0.4
    latency.bar([p - width / 2 for p in positions], [s.p50_ms or 0.0 for s in summaries], width, label="p50")
    latency.bar([p + width / 2 for p in positions], [s.p99_ms or 0.0 for s in summaries], width, label="p99")
    latency.set_title("latency (ms)")
    latency.legend()
    for axis in (axes[0][0], axes[0][1], axes[1][0], axes[1][1]):
        axis.set_xticks(positions, names, rotation=20, ha="right", fontsize=8)
    figure.suptitle("flare trace replay: scenarios side by side")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
