"""``flare tune``'s decisions, pure: the figures of a REPORT line, the statistics of one memory
size, which size a strategy picks, where the duration curve flattens, and which sizes may run
at once.

The statistics and the strategies are AWS Lambda Power Tuning's (its analyzer and executor,
github.com/alexcasalboni/aws-lambda-power-tuning): a size's duration and cost are the means of
its warm invocations with the fastest and the slowest 20% left out (``discardTopBottom``);
``cost`` picks the cheapest size (the faster of equals), ``speed`` the fastest (the cheaper of
equals), ``balanced`` the one that minimises ``weight * cost / max cost + (1 - weight) *
duration / max duration`` (``balancedWeight``, 0.5 unless told: 0 is ``speed``, 1 ``cost``).
Its default sizes are 128, 256, 512, 1024, 1536 and 3008 MB. Cost is ``pricing``'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flare.observe import pricing
from flare.sandbox.cgroups import cpu_share

DEFAULT_MEMORY = (128, 256, 512, 1024, 1536, 3008)
STRATEGIES = ("cost", "speed", "balanced")
DEFAULT_BALANCED_WEIGHT = 0.5
DISCARD_TOP_BOTTOM = 0.2
FLAT_WITHIN = 0.10
"""The curve is flat from the first size whose duration is within 10% of the fastest size's."""
ENGINE_HEADROOM_CPUS = 0.25
"""CPU left for the engine and this command while sizes run side by side (``plan_batches``)."""

_FIGURE = re.compile(r"(Duration|Billed Duration|Init Duration|Max Memory Used): ([\d.]+) (?:ms|MB)")


@dataclass(frozen=True)
class Sample:
    """One invocation's REPORT figures. ``init_ms`` is None for a warm invocation."""

    duration_ms: float
    billed_ms: int
    max_memory_mb: int
    init_ms: float | None = None


def parse_report(line: str) -> Sample | None:
    """The figures of a ``REPORT RequestId: ...`` line (None for any other line)."""
    if not line.startswith("REPORT "):
        return None
    figures = dict(_FIGURE.findall(line))
    if "Duration" not in figures or "Billed Duration" not in figures:
        return None
    init = figures.get("Init Duration")
    return Sample(
        float(figures["Duration"]),
        int(float(figures["Billed Duration"])),
        int(float(figures.get("Max Memory Used", 0))),
        float(init) if init is not None else None,
    )


def trimmed_mean(values: Sequence[float], discard: float = DISCARD_TOP_BOTTOM) -> float:
    """The mean of ``values`` without the lowest and highest ``discard`` share of them (as many
    from each end; none when that rounds to zero). 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    cut = int(len(ordered) * discard)
    kept = ordered[cut : len(ordered) - cut] or ordered
    return sum(kept) / len(kept)


@dataclass(frozen=True)
class Row:
    """One memory size's results: its cold start and warm invocations, summarised."""

    memory_mb: int
    vcpus: float
    cold: Sample | None
    warm: list[Sample] = field(default_factory=list)
    architecture: str = "x86_64"
    ephemeral_mb: int = pricing.FREE_EPHEMERAL_MB

    def cost_of(self, sample: Sample) -> float:
        """What ``sample`` costs on Lambda (USD), billed as its REPORT says."""
        return pricing.invocation_charges(
            self.architecture, self.memory_mb, sample.duration_ms, sample.init_ms, self.ephemeral_mb
        ).total

    @property
    def duration_ms(self) -> float:
        return trimmed_mean([sample.duration_ms for sample in self.warm])

    @property
    def billed_ms(self) -> float:
        return trimmed_mean([float(sample.billed_ms) for sample in self.warm])

    @property
    def cost_usd(self) -> float:
        """The trimmed mean cost of a warm invocation."""
        return trimmed_mean([self.cost_of(sample) for sample in self.warm])

    @property
    def max_memory_mb(self) -> int:
        return max((sample.max_memory_mb for sample in [*self.warm, *filter(None, [self.cold])]), default=0)

    def as_json(self) -> dict[str, object]:
        cold = self.cold
        return {
            "memoryMB": self.memory_mb,
            "vCPU": round(self.vcpus, 3),
            "durationMs": round(self.duration_ms, 3),
            "billedDurationMs": round(self.billed_ms, 3),
            "costUSD": self.cost_usd,
            "maxMemoryUsedMB": self.max_memory_mb,
            "coldStart": None
            if cold is None
            else {
                "initDurationMs": cold.init_ms,
                "durationMs": cold.duration_ms,
                "billedDurationMs": cold.billed_ms,
                "costUSD": self.cost_of(cold),
            },
            "invocations": [
                {
                    "durationMs": s.duration_ms,
                    "billedDurationMs": s.billed_ms,
                    "maxMemoryUsedMB": s.max_memory_mb,
                }
                for s in self.warm
            ],
        }


def summarize(
    memory_mb: int,
    samples: Iterable[Sample],
    host_cpus: int,
    architecture: str = "x86_64",
    ephemeral_mb: int = pricing.FREE_EPHEMERAL_MB,
) -> Row:
    """One size's ``Row``: the first cold sample is its cold start, the warm ones its statistics
    (a later cold start, an environment that was replaced, counts in neither)."""
    samples = list(samples)
    cold = next((sample for sample in samples if sample.init_ms is not None), None)
    warm = [sample for sample in samples if sample.init_ms is None]
    vcpus = cpu_share(memory_mb, host_cpus)
    return Row(memory_mb, vcpus, cold, warm, architecture, ephemeral_mb)


def recommend(rows: Sequence[Row], strategy: str, weight: float = DEFAULT_BALANCED_WEIGHT) -> Row:
    """The size ``strategy`` picks among ``rows`` that have warm invocations (see the module's
    docstring). Raises ValueError for an unknown strategy or no measured row."""
    measured = [row for row in rows if row.warm]
    if not measured:
        raise ValueError("no memory size has a measured warm invocation")
    if strategy == "cost":
        return min(measured, key=lambda row: (row.cost_usd, row.duration_ms))
    if strategy == "speed":
        return min(measured, key=lambda row: (row.duration_ms, row.cost_usd))
    if strategy == "balanced":
        weight = min(max(weight, 0.0), 1.0)
        top_cost = max(row.cost_usd for row in measured) or 1.0
        top_duration = max(row.duration_ms for row in measured) or 1.0
        return min(
            measured,
            key=lambda row: weight * row.cost_usd / top_cost + (1 - weight) * row.duration_ms / top_duration,
        )
    raise ValueError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")


def inflection(rows: Sequence[Row], within: float = FLAT_WITHIN) -> Row:
    """The smallest size whose duration is within ``within`` of the fastest size's: where more
    memory stops buying speed. Raises ValueError when no row has warm invocations."""
    measured = sorted((row for row in rows if row.warm), key=lambda row: row.memory_mb)
    if not measured:
        raise ValueError("no memory size has a measured warm invocation")
    fastest = min(row.duration_ms for row in measured)
    return next(row for row in measured if row.duration_ms <= fastest * (1 + within))


def plan_batches(
    sizes: Sequence[int], host_cpus: int, headroom: float = ENGINE_HEADROOM_CPUS
) -> list[list[int]]:
    """Which sizes run their warm invocations side by side: a size's result is true only if it
    gets all the CPU its memory buys (``cpu_share``), so a batch's shares add up to at most
    ``host_cpus - headroom`` (a size that needs more than that runs alone). Smallest sizes
    first, each in the first batch it fits."""
    budget = max(host_cpus - headroom, 0.0)
    batches: list[tuple[float, list[int]]] = []
    for size in sorted(sizes):
        share = cpu_share(size, host_cpus)
        for index, (used, members) in enumerate(batches):
            if used + share <= budget + 1e-9:
                batches[index] = (used + share, [*members, size])
                break
        else:
            batches.append((share, [size]))
    return [members for _, members in batches]


def parse_sizes(text: str) -> list[int]:
    """``"128,256,512"`` as sizes, each 128-10240 MB, no repeats. Raises ValueError."""
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        sizes = []
    if not sizes or any(not 128 <= size <= 10240 for size in sizes):
        raise ValueError(f"memory sizes must be 128-10240 MB, comma-separated (got {text!r})")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"memory sizes repeat: {text!r}")
    return sizes
