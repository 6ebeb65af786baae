"""``flare tune --plot``: the chart Power Tuning draws, as a PNG: against memory, the duration
(left axis) and the cost per invocation (right axis), one point per size measured.

matplotlib (the ``flare[charts]`` extra) is imported here only, with its headless Agg backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flare.cli.client import CommandFailed
from flare.observe.tuning import Row

DURATION_COLOUR = "#1f77b4"
COST_COLOUR = "#d62728"


def draw(rows: Sequence[Row], title: str, path: Path) -> None:
    """Write the chart of ``rows`` to ``path``. Raises CommandFailed without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise CommandFailed("--plot needs matplotlib: pip install 'flare[charts]'") from None
    measured = [row for row in rows if row.warm]
    labels = [str(row.memory_mb) for row in measured]
    figure, duration_axis = pyplot.subplots(figsize=(8, 4.5), dpi=100)
    durations = duration_axis.plot(
        labels, [row.duration_ms for row in measured], "o-", color=DURATION_COLOUR, label="duration"
    )
    duration_axis.set_xlabel("memory (MB)")
    duration_axis.set_ylabel("duration (ms)", color=DURATION_COLOUR)
    duration_axis.set_ylim(bottom=0)
    cost_axis = duration_axis.twinx()
    costs = cost_axis.plot(
        labels, [row.cost_usd * 1e6 for row in measured], "s--", color=COST_COLOUR, label="cost"
    )
    cost_axis.set_ylabel("cost per million invocations (USD)", color=COST_COLOUR)
    cost_axis.set_ylim(bottom=0)
    duration_axis.set_title(f"flare tune {title}")
    duration_axis.legend(handles=durations + costs, loc="upper center")
    duration_axis.grid(alpha=0.3)
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise CommandFailed(f"cannot write {path}: {exc.strerror}") from None
    finally:
        pyplot.close(figure)
