"""``make bench-density`` (``python -m bench.density [--count N]``): how many idle environments
fit in this machine's memory, and what each one costs (issue 18's target: 5,000 within 24 GiB,
warm invokes at p50 within 20 % of the one-environment figure). Not in ``make bench``: it takes
minutes and most of the machine's memory; run it under ``flock /tmp/flare-bigrun.lock``.

One fresh ``flare serve`` (``--account-concurrency N+200 --scaling-rate 100000``):

* a hello-world function at 128 MB is invoked until warm, and its warm p50 timed with that one
  environment live (sequential invokes over one keep-alive connection);
* a second one (python3.11, 128 MB, alias ``live``) gets provisioned concurrency in steps of
  ``STEP`` up to N, each polled until READY. Before a step, and while it grows, MemAvailable is
  read: the run stops short of N (the provisioned count put back to what is live) rather than
  go below ``FLOOR_MIB`` left, and reports the N it reached;
* then, with those environments live: PSS per environment (the sum of ``smaps_rollup`` Pss over
  every process that appeared while provisioning, ÷ N), the kernel's own growth from
  /proc/meminfo (Slab, SUnreclaim, PageTables, KernelStack) ÷ N, MemAvailable's fall ÷ N, and
  the first function's warm p50 again.

Results go to stdout as markdown and are appended to bench/RESULTS.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import harness, measure, report
from bench.shutdown import descendants
from flare.runtimes.lambda_python.uids import INIT_UID

DEFAULT_COUNT = 5000
STEP = 250
FLOOR_MIB = 2048
FIRST_GUESS_KIB = 6 * 1024  # the cost of an environment before any is measured
WARM_FUNCTION = "bench-density-warm"
PROVISIONED_FUNCTION = "bench-density"
WARM_ITERATIONS = 1000
WARM_WARMUP = 200
WARM_ROUNDS = 5  # p50 of each round, the median of them reported: one load spike moves one round
POLL_S = 0.25
STEP_WITHIN_S = 600.0
FD_SPARE = 300  # descriptors the engine keeps free for connections and files
KERNEL_FIELDS = ("Slab", "SUnreclaim", "PageTables", "KernelStack")
CACHE_FIELDS = ("Cached", "Buffers", "Shmem", "AnonPages")


def meminfo() -> dict[str, int]:
    """/proc/meminfo in KiB, by field."""
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields


def uid_of(pid: int) -> int | None:
    """The real uid of ``pid``, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))


def pss_kib(pids: set[int]) -> tuple[int, int]:
    """The summed Pss (KiB) of ``pids``' ``smaps_rollup`` and how many could be read."""
    total = read = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
                read += 1
                break
    return total, read


@dataclass
class DensityRun:
    """One run: the count asked for and reached, and what the environments cost."""

    target: int
    reached: int = 0
    stopped: str = ""
    ready_s: float = 0.0
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    env_pss_kib: int = 0
    env_procs: int = 0
    init_pss_kib: int = 0
    inits: int = 0
    engine_pss_growth_kib: int = 0
    warm_one: list[float] = field(default_factory=list)  # p50 (ms) of each round
    warm_n: list[float] = field(default_factory=list)
    load_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_end: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def per_env(self, name: str) -> float:
        """How ``name`` of /proc/meminfo grew per environment reached, in KiB."""
        return (self.after[name] - self.before[name]) / self.reached if self.reached else 0.0

    @property
    def warm_ratio(self) -> float | None:
        if not self.warm_one or not self.warm_n:
            return None
        return statistics.median(self.warm_n) / statistics.median(self.warm_one)


def _available_provisioned(client: Any) -> tuple[str, int]:
    config = client.get_provisioned_concurrency_config(FunctionName=PROVISIONED_FUNCTION, Qualifier="live")
    if config["Status"] == "FAILED":
        raise RuntimeError(f"provisioned concurrency FAILED: {config.get('StatusReason')}")
    return config["Status"], int(config["AvailableProvisionedConcurrentExecutions"])


def _put(client: Any, n: int) -> None:
    client.put_provisioned_concurrency_config(
        FunctionName=PROVISIONED_FUNCTION, Qualifier="live", ProvisionedConcurrentExecutions=n
    )


def open_files(pid: int) -> tuple[int, int]:
    """How many descriptors ``pid`` has open, and its open-files limit (the soft one)."""
    limit = next(
        line.split()[3]
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
        if "open files" in line
    )
    return len(os.listdir(f"/proc/{pid}/fd")), int(limit) if limit.isdigit() else 1 << 30


@dataclass
class Budget:
    """What the next step may take: memory above ``floor_kib``, the engine's descriptors."""

    engine: int
    floor_kib: int
    available_kib: int = field(default_factory=lambda: meminfo()["MemAvailable"])
    fds: int = 0

    def __post_init__(self) -> None:
        self.fds = open_files(self.engine)[0]

    def room(self, reached: int) -> tuple[int, str]:
        """How many more environments fit, at the cost per environment seen so far (a guess
        before any), and what limits that number."""
        available = meminfo()["MemAvailable"]
        spent = self.available_kib - available
        per_env = spent / reached if reached and spent > 0 else FIRST_GUESS_KIB
        by_memory = int((available - self.floor_kib) // per_env)
        open_now, limit = open_files(self.engine)
        fds_per_env = (open_now - self.fds) / reached if reached and open_now > self.fds else 5.0
        by_fds = int((limit - open_now - FD_SPARE) // fds_per_env)
        if by_fds < by_memory:
            why = f"the engine's open-files limit ({limit}; {fds_per_env:.1f} descriptors per environment)"
            return by_fds, why
        return by_memory, f"MemAvailable {available // 1024} MiB, to stay above {self.floor_kib // 1024} MiB"


def grow(client: Any, run: DensityRun, budget: Budget, progress: Callable[[str], None]) -> None:
    """Provision in steps of ``STEP`` up to ``run.target``, each cut to what ``budget`` has room
    for; a step during which MemAvailable falls below the floor anyway is stopped (the
    provisioned count put back to what is live). Sets ``reached``, ``stopped``, ``ready_s``."""
    began = time.perf_counter()
    while run.reached < run.target:
        room, why = budget.room(run.reached)
        step = min(STEP, run.target - run.reached, room)
        if step <= 0:
            run.stopped = f"no room for more: {why}"
            break
        _put(client, run.reached + step)
        deadline = time.perf_counter() + STEP_WITHIN_S
        while True:
            status, live = _available_provisioned(client)
            if status == "READY":
                run.reached = live
                break
            if meminfo()["MemAvailable"] < budget.floor_kib:
                _put(client, live)
                run.reached, run.stopped = live, f"MemAvailable fell below {budget.floor_kib // 1024} MiB"
                break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{run.reached + step} environments not READY after {STEP_WITHIN_S:.0f} s")
            time.sleep(POLL_S)
        progress(f"density: {run.reached} live, MemAvailable {meminfo()['MemAvailable'] // 1024} MiB")
        if run.stopped:
            break
    run.ready_s = time.perf_counter() - began


def warm_p50s(endpoint: measure.Endpoint) -> list[float]:
    """The warm p50 (ms) of each of ``WARM_ROUNDS`` rounds of sequential invokes."""
    return [measure.warm_latency(endpoint, WARM_ITERATIONS, WARM_WARMUP).p50_ms for _ in range(WARM_ROUNDS)]


def _rounds(p50s: list[float]) -> str:
    """``median (lowest-highest)`` of the rounds' p50s."""
    if not p50s:
        return "-"
    return f"{statistics.median(p50s):.2f} ({min(p50s):.2f}-{max(p50s):.2f})"


def measure_density(
    run: DensityRun, server: harness.Server, floor_kib: int, progress: Callable[[str], None]
) -> None:
    client = harness.lambda_client(server.url)
    harness.deploy(client, WARM_FUNCTION)
    harness.deploy(client, PROVISIONED_FUNCTION)
    version = client.publish_version(FunctionName=PROVISIONED_FUNCTION)["Version"]
    client.create_alias(FunctionName=PROVISIONED_FUNCTION, Name="live", FunctionVersion=version)
    warm = measure.Endpoint(server.host, server.port, WARM_FUNCTION)
    progress("density: warm p50 with one environment live")
    run.warm_one = warm_p50s(warm)
    engine = server.process.pid
    time.sleep(1.0)
    pids_before = set(descendants(engine))
    engine_before, _ = pss_kib(pids_before | {engine})
    run.before, run.load_start = meminfo(), os.getloadavg()
    grow(client, run, Budget(engine, floor_kib), progress)
    time.sleep(2.0)  # the last environments' start-up work settles
    run.after = meminfo()
    pids_after = set(descendants(engine))
    new = pids_after - pids_before
    run.env_pss_kib, run.env_procs = pss_kib(new)
    run.init_pss_kib, run.inits = pss_kib({pid for pid in new if uid_of(pid) == INIT_UID})
    engine_after, _ = pss_kib((pids_after & pids_before) | {engine})
    run.engine_pss_growth_kib = engine_after - engine_before
    progress(f"density: warm p50 with {run.reached + 1} environments live")
    run.warm_n = warm_p50s(warm)
    run.load_end = os.getloadavg()


def _kib(value: float) -> str:
    return f"{value / 1024:.2f} MiB" if abs(value) >= 1024 else f"{value:.0f} KiB"


def _row(run: DensityRun) -> str:
    n = run.reached or 1
    kernel = sum(run.per_env(name) for name in ("Slab", "PageTables", "KernelStack"))
    one = _rounds(run.warm_one)
    live = _rounds(run.warm_n)
    return (
        f"| {run.target} | {run.reached} | {run.ready_s:.0f} | {_kib(run.env_pss_kib / n)} "
        f"| {run.env_procs / n:.2f} | {_kib(kernel)} | {_kib(-run.per_env('MemAvailable'))} "
        f"| {one} | {live} | {run.warm_ratio or 0:.2f} "
        f"| {run.load_start[0]:.1f} → {run.load_end[0]:.1f} |"
    )


def render(run: DensityRun, floor_mib: int) -> str:
    """The markdown sub-section for one run."""
    n = run.reached or 1
    fell = -run.per_env("MemAvailable")
    before, after = run.before.get("MemAvailable", 0), run.after.get("MemAvailable", 0)
    fits = (before - floor_mib * 1024) / fell if fell > 0 else 0.0
    kernel = ", ".join(f"{name} {_kib(run.per_env(name))}" for name in KERNEL_FIELDS)
    lines = [
        "### Density: idle provisioned environments in this machine's memory",
        "",
        "| N asked | N live | READY (s) | PSS / env | processes / env | kernel / env "
        "| MemAvailable fall / env | warm p50, 1 live (ms) | warm p50, N live (ms) | ratio | load average |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        _row(run),
        "",
        f"- PSS / env: its init (pid 1 of its namespace; {run.inits} of them) "
        f"{_kib(run.init_pss_kib / max(run.inits, 1))}, the rest (its runtime) "
        f"{_kib((run.env_pss_kib - run.init_pss_kib) / n)}",
        f"- kernel / env: Slab + PageTables + KernelStack growth ÷ N ({kernel}); beside them "
        + ", ".join(f"{name} {_kib(run.per_env(name))}" for name in CACHE_FIELDS),
        "- the engine's and zygotes' own PSS (their shared pages now divided among more) grew by "
        f"{_kib(run.engine_pss_growth_kib)} in all "
        f"({_kib(run.engine_pss_growth_kib / n)} per environment); MemAvailable {before // 1024} MiB "
        f"before, {after // 1024} MiB after (machine-wide: other work on the machine moves it too)",
        f"- at this rate, {fits:.0f} environments fit above {floor_mib} MiB left"
        + (f"; stopped at {run.reached}: {run.stopped}" if run.stopped else ""),
        f"- python3.11, 128 MB, alias `live`, provisioned in steps of {STEP}; warm p50: the median (and "
        f"range) of {WARM_ROUNDS} rounds' p50 of {WARM_ITERATIONS} "
        "sequential invokes of another 128 MB function over one keep-alive connection (target: N live "
        "within 1.2x of 1 live)",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.density")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--floor-mib", type=int, default=FLOOR_MIB, help="MemAvailable to leave")
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    run = DensityRun(options.count)
    extra = ["--account-concurrency", str(options.count + 200), "--scaling-rate", "100000"]

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="flare-bench-density-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            with harness.flare_server(Path(tmp) / "data", log, extra_args=extra) as server:
                measure_density(run, server, options.floor_mib * 1024, progress)
        except Exception:
            print(log.read_text(errors="replace")[-3000:] if log.exists() else "", file=sys.stderr)
            raise
    command = "python -m bench.density " + " ".join(sys.argv[1:])
    text = report.heading(command.strip()) + "\n" + render(run, options.floor_mib)
    print(text)
    if not options.no_record:
        report.append(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
