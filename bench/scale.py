"""Scale: how fast Flare makes many environments, and whether the N-th costs more than the
first (``python -m bench --only scale``, or ``make bench-scale``; not in the default run: it
takes minutes and several GiB).

For each N of ``SIZES`` (``QUICK_SIZES`` with ``--quick``), one fresh ``flare serve``
(``--account-concurrency N+200 --scaling-rate 100000``):

* a new function's cold start with no live environment: ``cold_iterations`` invokes, each
  after a configuration change that retires the last environment (``harness.bump_revision``);
* ``PutProvisionedConcurrencyConfig(live, N)`` for a python3.11 function of 128 MB, polled until
  READY: the time to READY, the rate, and the seconds each 100 environments took (a rate that
  falls as N grows means something on the path is linear in the live environments);
* the same cold starts again, now beside the N live provisioned environments (issue 18's
  target: within 1.2x of the figure with none);
* SIGTERM to the engine with the N environments live: the seconds until it exits (target
  ≤ 5 s) and what of its own it left (:mod:`bench.shutdown`).

Then, in one more fresh engine (``--account-concurrency 1200``, Lambda's default scaling rate
of 1,000 per 10 s), a burst: ``BURST`` sync invokes sent at once to a function that has no
environment (:mod:`bench.burst`): how many were answered, throttled or failed, and the time
until the last answer, beside ``BURST`` x that engine's single cold start / the host's cores.

The machine is shared: the load average is reported with each run, and so is the CPU time
Flare itself spent (the engine, its zygotes and environments, from /proc), which other load
does not inflate.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import burst, harness, measure, shutdown

SIZES = (100, 300, 600, 1000)
QUICK_SIZES = (100, 300)
PROVISIONED_FUNCTION = "bench-scale"
COLD_FUNCTION = "bench-scale-cold"
READY_WITHIN_S = 300.0
POLL_S = 0.05
STEP = 100
BURST = 1000
QUICK_BURST = 200
BURST_FUNCTION = "bench-scale-burst"


@dataclass
class ScaleRun:
    """One N: READY time, seconds per ``STEP`` environments, Flare's CPU, cold starts."""

    n: int
    ready_s: float | None = None
    steps_s: list[float] = field(default_factory=list)
    flare_cpu_s: float | None = None
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cold_none: measure.LatencyStats | None = None
    cold_live: measure.LatencyStats | None = None
    sigterm_s: float | None = None
    left: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def rate(self) -> float | None:
        return self.n / self.ready_s if self.ready_s else None

    @property
    def cold_ratio(self) -> float | None:
        if self.cold_none is None or self.cold_live is None or not self.cold_none.p50_ms:
            return None
        return self.cold_live.p50_ms / self.cold_none.p50_ms


@dataclass
class BurstRun:
    """``n`` invokes at once to a cold function, and that engine's single cold start."""

    n: int
    cold: measure.LatencyStats | None = None
    result: burst.BurstResult | None = None
    flare_cpu_s: float | None = None
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    error: str | None = None

    @property
    def serial_s(self) -> float | None:
        """``n`` x the single cold start / the host's cores: the time one after another."""
        return self.n * self.cold.p50_ms / 1000 / (os.cpu_count() or 1) if self.cold else None


@dataclass
class ScaleResult:
    runs: list[ScaleRun] = field(default_factory=list)
    burst: BurstRun | None = None

    @property
    def failed(self) -> bool:
        burst_failed = self.burst is not None and self.burst.error is not None
        return burst_failed or any(run.error is not None for run in self.runs)


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system, with reaped children's) of ``root`` and every live
    descendant, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    spent: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        spent[int(entry)] = sum(int(value) for value in fields[11:15]) / ticks
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += spent.get(pid, 0.0)
        stack += children.get(pid, [])
    return total


def provision(client: Any, n: int) -> tuple[float, list[float]]:
    """Put ``n`` provisioned environments on alias ``live``; seconds until READY and the
    seconds each ``STEP`` of them took to become available."""
    began = time.perf_counter()
    client.put_provisioned_concurrency_config(
        FunctionName=PROVISIONED_FUNCTION, Qualifier="live", ProvisionedConcurrentExecutions=n
    )
    marks: list[float] = []
    while time.perf_counter() - began < READY_WITHIN_S:
        config = client.get_provisioned_concurrency_config(
            FunctionName=PROVISIONED_FUNCTION, Qualifier="live"
        )
        now = time.perf_counter() - began
        while len(marks) < config["AvailableProvisionedConcurrentExecutions"] // STEP:
            marks.append(now)
        if config["Status"] == "READY":
            return now, [later - earlier for earlier, later in zip([0.0, *marks], marks, strict=False)]
        if config["Status"] == "FAILED":
            raise RuntimeError(f"provisioned concurrency FAILED: {config.get('StatusReason')}")
        time.sleep(POLL_S)
    raise TimeoutError(f"{n} provisioned environments not READY after {READY_WITHIN_S:.0f} s")


def measure_one(
    run: ScaleRun,
    server: harness.Server,
    data_dir: Path,
    cold_iterations: int,
    progress: Callable[[str], None],
) -> None:
    client = harness.lambda_client(server.url)
    harness.deploy(client, COLD_FUNCTION)
    harness.deploy(client, PROVISIONED_FUNCTION)
    version = client.publish_version(FunctionName=PROVISIONED_FUNCTION)["Version"]
    client.create_alias(FunctionName=PROVISIONED_FUNCTION, Name="live", FunctionVersion=version)
    cold = measure.Endpoint(server.host, server.port, COLD_FUNCTION)

    def bump(i: int) -> None:
        harness.bump_revision(client, COLD_FUNCTION, i)

    progress(f"scale N={run.n}: {cold_iterations} cold starts, no live environment")
    run.cold_none = measure.cold_starts(cold, cold_iterations, bump)
    run.load = os.getloadavg()
    progress(f"scale N={run.n}: PutProvisionedConcurrencyConfig({run.n}) until READY")
    cpu_before = tree_cpu_s(server.process.pid)
    run.ready_s, run.steps_s = provision(client, run.n)
    run.flare_cpu_s = tree_cpu_s(server.process.pid) - cpu_before
    progress(f"scale N={run.n}: READY in {run.ready_s:.1f} s; {cold_iterations} cold starts beside them")
    run.cold_live = measure.cold_starts(cold, cold_iterations, lambda i: bump(cold_iterations + i))
    progress(f"scale N={run.n}: SIGTERM with {run.n} environments live")
    run.sigterm_s, run.left = shutdown.sigterm(server, data_dir)


def measure_burst(run: BurstRun, server: harness.Server, cold_iterations: int) -> None:
    client = harness.lambda_client(server.url)
    harness.deploy(client, COLD_FUNCTION)
    cold = measure.Endpoint(server.host, server.port, COLD_FUNCTION)
    run.cold = measure.cold_starts(
        cold, cold_iterations, lambda i: harness.bump_revision(client, COLD_FUNCTION, i)
    )
    harness.deploy(client, BURST_FUNCTION)
    run.load = os.getloadavg()
    cpu_before = tree_cpu_s(server.process.pid)
    run.result = burst.fire(measure.Endpoint(server.host, server.port, BURST_FUNCTION), run.n)
    run.flare_cpu_s = tree_cpu_s(server.process.pid) - cpu_before


def run(cold_iterations: int, quick: bool, progress: Callable[[str], None]) -> ScaleResult:
    """Every N in turn, then the burst; a failure is recorded in its run, not raised."""
    result = ScaleResult()
    for n in QUICK_SIZES if quick else SIZES:
        scale_run = ScaleRun(n)
        result.runs.append(scale_run)
        extra = ["--account-concurrency", str(n + 200), "--scaling-rate", "100000"]
        scale_run.error = _in_engine(
            extra,
            lambda server, data, one=scale_run: measure_one(one, server, data, cold_iterations, progress),  # type: ignore[misc]
        )
    result.burst = BurstRun(QUICK_BURST if quick else BURST)
    progress(f"scale: a burst of {result.burst.n} invokes to a cold function")
    burst_run = result.burst
    result.burst.error = _in_engine(
        ["--account-concurrency", "1200"],
        lambda server, data: measure_burst(burst_run, server, cold_iterations),
    )
    return result


def _in_engine(extra: list[str], work: Callable[[harness.Server, Path], None]) -> str | None:
    """Run ``work`` against a fresh engine started with ``extra``; its error (with the end of
    the engine's log) or None."""
    with tempfile.TemporaryDirectory(prefix="flare-bench-scale-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            with harness.flare_server(Path(tmp) / "data", log, extra_args=extra) as server:
                work(server, Path(tmp) / "data")
        except Exception as exc:  # reported in the section, with the server's log
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            return f"{type(exc).__name__}: {exc}\n{tail}".strip()
    return None


def _cell(value: float | None, decimals: int) -> str:
    return "-" if value is None else f"{value:.{decimals}f}"


def _row(run: ScaleRun) -> str:
    steps = ", ".join(f"{step:.2f}" for step in run.steps_s) or "-"
    none = run.cold_none.p50_ms if run.cold_none else None
    live = run.cold_live.p50_ms if run.cold_live else None
    return (
        f"| {run.n} | {_cell(run.ready_s, 1)} | {_cell(run.rate, 0)} | {steps} | {_cell(run.flare_cpu_s, 1)} "
        f"| {_cell(none, 1)} | {_cell(live, 1)} | {_cell(run.cold_ratio, 2)} | {_cell(run.sigterm_s, 2)} "
        f"| {', '.join(run.left[:3]) or 'nothing'}{' ...' if len(run.left) > 3 else ''} | {run.load[0]:.1f} |"
    )


def _burst_lines(run: BurstRun | None) -> list[str]:
    if run is None:
        return []
    if run.result is None or run.cold is None:
        why = (run.error or "no answer").splitlines()[0]
        return ["", f"Burst of {run.n} invokes to a cold function: not measured ({why})"]
    answers = ", ".join(f"{count} {status}" for status, count in sorted(run.result.statuses.items()))
    return [
        "",
        f"**Burst**: {run.n} sync invokes sent at once to a function with no environment "
        "(`--account-concurrency 1200`, scaling rate 1,000 per 10 s): "
        f"{answers}; the last answer after {_cell(run.result.last_s, 2)} s, against "
        f"{run.n} x the single cold start ({run.cold.p50_ms:.1f} ms p50) / {os.cpu_count()} cores "
        f"= {_cell(run.serial_s, 2)} s; Flare's CPU meanwhile {_cell(run.flare_cpu_s, 1)} s "
        f"(on {os.cpu_count()} cores: {_cell((run.flare_cpu_s or 0) / (os.cpu_count() or 1), 1)} s "
        "at the least); "
        f"load average {run.load[0]:.1f}",
    ]


def render(result: ScaleResult) -> str:
    """The markdown sub-section: one row per N, then the notes."""
    lines = [
        "### Scale: provisioned environments to READY, and a cold start beside them",
        "",
        f"| N provisioned | READY (s) | rate (/s) | seconds per {STEP} | Flare CPU (s) "
        "| cold start p50, none live (ms) | cold start p50, N live (ms) | ratio | SIGTERM to exit (s) "
        "| left behind | load average |",
        "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        *(_row(run) for run in result.runs),
        "",
        "- python3.11, 128 MB, alias `live`, `--account-concurrency N+200 --scaling-rate 100000`; one fresh "
        f"engine per N; READY polled every {POLL_S * 1000:.0f} ms",
        "- Flare CPU: user + system seconds of the engine, its zygotes and environments while provisioning "
        "(the machine's other load does not count in it); load average: the 1-minute figure at the start",
        "- cold start: a new environment of another function after a configuration change (targets: "
        "N=1,000 READY in ≤ 10 s, cold start with N live within 1.2x of none)",
        "- SIGTERM: to the engine alone, with the N environments live; left behind: its processes, "
        "cgroups, loop devices and mounts still there 1 s after it exited (target: exit in ≤ 5 s, "
        "nothing left)",
        *_burst_lines(result.burst),
    ]
    for run in result.runs:
        if run.error:
            lines.append(f"- N={run.n} not measured: {run.error.splitlines()[0]}")
            lines += ["", "```", *run.error.splitlines()[1:], "```"]
    return "\n".join(lines) + "\n"
