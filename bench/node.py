"""Node.js beside Python (``bench.beside_python``): ``nodejs20.x``, an async CommonJS handler,
at 128 MB; its cold starts take late-bound spares (``sandbox/late_binding.py``), booted before
the update; its "later" cold start waits 0.5 s first.

The section also sets Flare's Node.js figures against serverless-offline serving the same
``index.js`` (``bench.peer``'s ``NODE`` function, measured by ``bench.__main__.bench_peer``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import beside_python, report
from bench.beside_python import Beside, BesideResult
from bench.harness import NODE_HANDLER_SOURCE
from bench.measure import LatencyStats
from bench.report import EngineResult

COLD_TARGET_MS = 25.0
"""Issue 14's bound on a Node.js hello-world cold start's p50 through the public API."""


def node_zip(_scratch: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.js", NODE_HANDLER_SOURCE)
    return buffer.getvalue()


NODE = Beside(
    "node",
    "Node.js",
    "nodejs20.x",
    "index.handler",
    128,
    0.5,
    node_zip,
    "a late-bound spare (started for no function, before the update; two per runtime and memory, "
    "both Node.js functions here draw on them)",
)


@dataclass(frozen=True)
class AgainstPeer:
    """One row of the Flare-against-serverless-offline table: how to read each side's figure."""

    label: str
    flare: Callable[[BesideResult], float | None]
    peer: Callable[[EngineResult], float | None]
    target: str = ""
    meets: Callable[[float], bool] | None = None
    decimals: int = 2


def _ms(attr: str, stats: LatencyStats | None) -> float | None:
    return getattr(stats, attr) if stats is not None else None


def _cold_target(value: float) -> bool:
    return value <= COLD_TARGET_MS


ROWS: tuple[AgainstPeer, ...] = (
    AgainstPeer(
        "cold start p50 (ms), at once after the update",
        lambda f: _ms("p50_ms", f.cold),
        lambda p: _ms("p50_ms", p.cold),
        f"≤ {COLD_TARGET_MS:g}",
        _cold_target,
    ),
    AgainstPeer(
        "cold start p99 (ms), at once after the update",
        lambda f: _ms("p99_ms", f.cold),
        lambda p: _ms("p99_ms", p.cold),
    ),
    AgainstPeer(
        f"cold start p50 (ms), {NODE.spare_boot_s:g} s after the update",
        lambda f: _ms("p50_ms", f.later_cold),
        lambda p: _ms("p50_ms", p.cold),
        f"≤ {COLD_TARGET_MS:g}",
        _cold_target,
    ),
    AgainstPeer(
        f"cold start p99 (ms), {NODE.spare_boot_s:g} s after the update",
        lambda f: _ms("p99_ms", f.later_cold),
        lambda p: _ms("p99_ms", p.cold),
    ),
    AgainstPeer("first invoke (ms)", lambda f: f.first_ms, lambda p: p.first_ms),
    AgainstPeer(
        "warm p50 (ms)", lambda f: _ms("p50_ms", f.warm), lambda p: _ms("p50_ms", p.warm), decimals=3
    ),
    AgainstPeer(
        "warm p99 (ms)", lambda f: _ms("p99_ms", f.warm), lambda p: _ms("p99_ms", p.warm), decimals=3
    ),
)


def against_peer(flare: BesideResult, peer: EngineResult) -> str:
    """The markdown table of Flare's Node.js figures beside the peer's, with Flare/peer ratios,
    then the peer's notes (versions, samples, why it was not measured)."""
    lines = [
        f"**Against serverless-offline**: the same `index.js` ({NODE.runtime}); Flare's figures from "
        "the table above. The peer has one cold start figure, `--reloadHandler`'s, set against both "
        "of Flare's.",
        "",
        report.COMPARISON_HEADER,
    ]
    for row in ROWS:
        f, p = row.flare(flare), row.peer(peer)
        f_text, p_text = report.cell(f, row.decimals, row.meets), report.cell(p, row.decimals)
        lines.append(f"| {row.label} | {row.target} | {f_text} | {p_text} | {report.ratio(f, p)} |")
    lines += [
        "",
        f"- flare: first invoke = the first call after CreateFunction; its environments run at "
        f"{NODE.memory_mb} MB's CPU share (0.072 vCPU), serverless-offline limits no CPU",
        report.notes([peer]),
    ]
    return "\n".join(lines) + "\n"


def render(flare: BesideResult, peer: EngineResult | None) -> str:
    """The Node.js section: the beside-Python table, then (if the peer was run) the peer's."""
    section = beside_python.render(NODE, flare)
    return section if peer is None else f"{section}\n{against_peer(flare, peer)}"
