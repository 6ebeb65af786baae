"""The results table (markdown) and bench/RESULTS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import LatencyStats, ThroughputStats

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
REPO = RESULTS.parent.parent

INTRO = """\
# Flare benchmark results

Appended by `make bench` (`.venv/bin/python -m bench`), newest last. Each run starts Flare
and the peer, [serverless-offline](https://github.com/dherault/serverless-offline) (serverless v3 +
serverless-offline v13, Python handlers), deploys the same hello-world Python 3.11 handler
(`app.handler` returning `{"ok": true}`) and measures through the Lambda Invoke API over HTTP:

- **cold start**: one invoke that needs a fresh environment. Flare: right after
  UpdateFunctionConfiguration changed an environment variable (new revision). Peer: with
  `--reloadHandler`, which spawns a new Python process for every invoke.
- **first invoke**: the first invoke after deploy (Flare) or server start (peer).
- **warm**: sequential invokes over one keep-alive connection (TCP_NODELAY, raw socket), at
  128 MB (Lambda's default, 0.072 vCPU); **warm at 1 vCPU**: the same at 1769 MB, where Lambda's
  CPU model no longer throttles the runtime's own per-invoke work (the peer limits no CPU, so
  its figures there are its warm and throughput ones).
- **throughput**: 8 concurrent keep-alive connections from one asyncio client; at 128 MB the
  eight environments share 8 x 0.072 = 0.58 vCPU, which caps it; **at 1 vCPU**: at 1769 MB.

Ratios are Flare/peer: below 1 is better for latencies, above 1 is better for throughput.
"""


@dataclass
class EngineResult:
    """Everything measured for one engine; ``error`` says why measurements are missing."""

    name: str
    version: str = ""
    first_ms: float | None = None
    cold: LatencyStats | None = None
    warm: LatencyStats | None = None
    warm_one_vcpu: LatencyStats | None = None
    throughput_one_vcpu: ThroughputStats | None = None
    throughput: ThroughputStats | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """One table row: label, Flare's target (or ""), how to read a value, lower-is-better."""

    label: str
    target: str
    value: Callable[[EngineResult], float | None]
    meets: Callable[[float], bool] | None = None
    lower_is_better: bool = True
    decimals: int = 2


def _cold(attr: str) -> Callable[[EngineResult], float | None]:
    return lambda r: getattr(r.cold, attr) if r.cold else None


def _warm(attr: str) -> Callable[[EngineResult], float | None]:
    return lambda r: getattr(r.warm, attr) if r.warm else None


def _warm_one_vcpu(attr: str) -> Callable[[EngineResult], float | None]:
    return lambda r: getattr(r.warm_one_vcpu, attr) if r.warm_one_vcpu else None


ROWS: tuple[Row, ...] = (
    Row("cold start p50 (ms)", "≤ 20", _cold("p50_ms"), lambda v: v <= 20),
    Row("cold start p99 (ms)", "≤ 50", _cold("p99_ms"), lambda v: v <= 50),
    Row("first invoke (ms)", "", lambda r: r.first_ms),
    Row("warm p50 (ms)", "≤ 0.6", _warm("p50_ms"), lambda v: v <= 0.6, decimals=3),
    Row("warm p99 (ms)", "", _warm("p99_ms"), decimals=3),
    Row("warm p50 at 1 vCPU (ms)", "", _warm_one_vcpu("p50_ms"), decimals=3),
    Row("warm p99 at 1 vCPU (ms)", "", _warm_one_vcpu("p99_ms"), decimals=3),
    Row(
        "throughput, 8 clients (inv/s)",
        "≥ 4,000",
        lambda r: r.throughput.per_second if r.throughput else None,
        lambda v: v >= 4000,
        lower_is_better=False,
        decimals=0,
    ),
    Row(
        "throughput at 1 vCPU, 8 clients (inv/s)",
        "",
        lambda r: r.throughput_one_vcpu.per_second if r.throughput_one_vcpu else None,
        lower_is_better=False,
        decimals=0,
    ),
)


COMPARISON_HEADER = (
    "| metric | target (Flare) | Flare | serverless-offline | Flare/peer |\n"
    "| --- | --- | ---: | ---: | ---: |"
)
"""The head of every Flare-against-the-peer table (this one, and the Node.js one in bench.node)."""


def cell(value: float | None, decimals: int, meets: Callable[[float], bool] | None = None) -> str:
    """A value as a table cell: "n/a" when missing, else with ``decimals`` places and, given a
    target (``meets``), ✓ or ✗."""
    if value is None:
        return "n/a"
    text = f"{value:,.{decimals}f}"
    if meets is not None:
        text += " ✓" if meets(value) else " ✗"
    return text


def ratio(flare: float | None, peer: float | None) -> str:
    """Flare/peer as e.g. "0.42x"; "n/a" when either is missing or the peer's is 0."""
    return f"{flare / peer:.2f}x" if flare is not None and peer else "n/a"


def table(flare: EngineResult | None, peer: EngineResult | None) -> str:
    """The markdown comparison table; a column for an engine not run shows "not run"."""
    lines = [COMPARISON_HEADER]
    for row in ROWS:
        f = row.value(flare) if flare else None
        p = row.value(peer) if peer else None
        f_text = cell(f, row.decimals, row.meets) if flare else "not run"
        p_text = cell(p, row.decimals) if peer else "not run"
        lines.append(f"| {row.label} | {row.target} | {f_text} | {p_text} | {ratio(f, p)} |")
    return "\n".join(lines)


def notes(results: Sequence[EngineResult]) -> str:
    """Bullet notes: versions, sample counts, client load, errors and why anything is missing."""
    out: list[str] = []
    for r in results:
        if r.version:
            out.append(f"- {r.name}: {r.version}")
        if r.error:
            first, _, rest = r.error.partition("\n")
            out.append(f"- **{r.name} unavailable or failed**: {first}")
            if rest.strip():
                out.append(_indented_block(rest))
        parts = []
        if r.cold:
            parts.append(f"cold n={r.cold.count} (max {r.cold.max_ms:.1f} ms)")
        if r.warm:
            parts.append(f"warm n={r.warm.count} (mean {r.warm.mean_ms:.3f} ms)")
        if r.throughput:
            t = r.throughput
            parts.append(
                f"throughput {t.completed:,} invokes in {t.seconds:.1f} s, {t.errors} errors, "
                f"client CPU {t.client_cpu:.0%} of one core"
            )
        if parts:
            out.append(f"- {r.name}: " + "; ".join(parts))
        out.extend(f"- {r.name}: {n}" for n in r.notes)
    return "\n".join(out)


def _indented_block(text: str) -> str:
    """``text`` as a fenced code block nested under the preceding bullet."""
    body = "\n".join(f"  {line}" for line in text.strip("\n").splitlines())
    return f"\n  ```\n{body}\n  ```"


def git_commit() -> str:
    """Short HEAD commit, plus "+dirty" if the tree differs from it (RESULTS.md aside)."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", ".", ":(exclude)bench/RESULTS.md")
    return commit + ("+dirty" if dirty else "")


def heading(command: str, now: dt.datetime | None = None) -> str:
    """Section heading and context lines: date, machine, Python, commit, exact command."""
    now = now or dt.datetime.now(dt.UTC)
    return (
        f"## {now:%Y-%m-%d %H:%M} UTC\n\n"
        f"- machine: nproc {len(os.sched_getaffinity(0))}, {platform.machine()}, "
        f"{platform.system()} {platform.release()}\n"
        f"- python: {platform.python_version()}\n"
        f"- commit: {git_commit()}\n"
        f"- command: `{command}`\n"
    )


def render(command: str, flare: EngineResult | None, peer: EngineResult | None, extra: str = "") -> str:
    """The full markdown section for one run: heading, table, notes, then ``extra`` (the
    sandbox sub-section). The engine table is left out when neither engine ran."""
    ran = [r for r in (flare, peer) if r is not None]
    section = heading(command)
    if ran:
        section += f"\n{table(flare, peer)}\n\n{notes(ran)}\n"
    if extra:
        section += f"\n{extra}"
    return section


def append(section: str, path: Path = RESULTS) -> None:
    """Append ``section`` to ``path``, creating it with the intro first if missing."""
    if not path.exists():
        path.write_text(INTRO)
    with open(path, "a") as out:
        out.write("\n" + section)
