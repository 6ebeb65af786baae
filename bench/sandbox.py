"""Sandbox benchmarks: what MemorySize buys in CPU, what isolation costs, what a freeze costs.

Three measurements, each filling one part of :class:`SandboxResult`:

- **CPU share curve** (:func:`cpu_curve`): a CPU-bound handler deployed at each of
  :data:`MEMORY_SIZES`; the handler times its own work with ``time.perf_counter`` and returns
  it, the REPORT line (``LogType=Tail``) gives Flare's Duration. Lambda's model (1769 MB = one
  vCPU, linear) predicts 1769/128 ≈ 13.8x slower at 128 MB and no gain above 1769 MB for one
  thread; a two-thread handler (``hashlib.sha256`` over 1 MiB blocks, which releases the GIL)
  should gain from 3538 MB on a host with two cores.
- **Isolation cost** (:func:`isolation`): the hello-world cold/warm/throughput figures of the
  main bench from a sandboxed ``flare serve`` and from ``flare serve --no-sandbox``, in the
  same run, plus a warm figure with an idle gap before every invoke, so that the environment
  was frozen and each invoke pays the thaw on its critical path.
- **Freezer round trip** (:func:`freezer`): in this process (root only) a cgroup with one
  sleeping child, timed directly: freeze write, wait until the kernel reports it frozen, thaw
  write; SIGSTOP/SIGCONT (what ``--no-sandbox`` uses) for comparison.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from bench import harness, measure
from bench.measure import Endpoint, LatencyStats, ThroughputStats
from flare.sandbox.cgroups import CFS_PERIOD_US, INIT_BURST_CPUS

MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3538)
REFERENCE_MB = 1769
TWO_THREAD_SIZES = (1769, 3538)
IDLE_GAP_S = 0.010
"""Pause before each "frozen" warm invoke: well past the pool's batched freeze (1 ms)."""

CPU_HANDLER_SOURCE = """\
import hashlib
import threading
import time

SQUARES_N = 1_600_000  # about 50 ms of one core on the bench host
BLOCK = bytes(1 << 20)
HASH_BLOCKS = 96  # per thread, about 50 ms of one core


def _squares():
    total = 0
    for i in range(SQUARES_N):
        total += i * i
    return total


def _hashes():
    for _ in range(HASH_BLOCKS):
        hashlib.sha256(BLOCK).digest()  # releases the GIL for buffers this large


def handler(event, context):
    work = event.get("work", "squares")
    threads = int(event.get("threads", 1))
    target = _squares if work == "squares" else _hashes
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if threads == 1:
        target()
    else:
        workers = [threading.Thread(target=target) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"ok": True, "ms": wall * 1000, "cpu_ms": cpu * 1000}
"""

_REPORT_DURATION = re.compile(r"^REPORT .*?\tDuration: ([0-9.]+) ms", re.MULTILINE)


class Steady(Protocol):
    """The parts of the bench's settings used here."""

    @property
    def cold_iterations(self) -> int: ...
    @property
    def warm_iterations(self) -> int: ...
    @property
    def warm_warmup(self) -> int: ...
    @property
    def clients(self) -> int: ...
    @property
    def throughput_seconds(self) -> float: ...
    @property
    def throughput_warmup(self) -> float: ...


# ---- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuPoint:
    """One memory size and kind of work: medians over ``count`` warm invokes."""

    memory_mb: int
    work: str
    threads: int
    count: int
    handler_ms: float
    report_ms: float
    cpu_ms: float
    first_ms: float
    """Wall time of the first (cold) invoke, INIT included, through boto3."""


@dataclass
class IsolationRun:
    """The hello-world figures from one server: sandbox on or ``--no-sandbox``."""

    label: str
    banner: list[str] = field(default_factory=list)
    first_ms: float | None = None
    cold: LatencyStats | None = None
    warm: LatencyStats | None = None
    warm_frozen: LatencyStats | None = None
    cold_full_cpu: LatencyStats | None = None
    """Cold starts of the same hello-world deployed at 1769 MB (one full vCPU for INIT)."""
    throughput: ThroughputStats | None = None
    error: str | None = None


@dataclass(frozen=True)
class FreezerStats:
    """Microsecond percentiles of one timed step over ``count`` repetitions."""

    label: str
    count: int
    p50_us: float
    p99_us: float
    max_us: float

    @classmethod
    def from_seconds(cls, label: str, samples: list[float]) -> FreezerStats:
        us = [s * 1e6 for s in samples]
        return cls(label, len(us), measure.percentile(us, 50), measure.percentile(us, 99), max(us))


@dataclass
class SandboxResult:
    """Everything the sandbox section measured; ``errors`` say what is missing and why."""

    cpu: list[CpuPoint] = field(default_factory=list)
    host_cpus: int = 0
    isolation: list[IsolationRun] = field(default_factory=list)
    freezer: list[FreezerStats] = field(default_factory=list)
    freezer_notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True if a part that should run here (a server-side part) failed."""
        return bool(self.errors) or any(run.error for run in self.isolation)


# ---- CPU share curve -------------------------------------------------------------------------


def _invoke_cpu(client: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """One RequestResponse invoke with ``LogType=Tail``: (payload, REPORT Duration ms, wall ms)."""
    start = time.perf_counter()
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    wall_ms = (time.perf_counter() - start) * 1000
    body = response["Payload"].read()
    log = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    if response.get("FunctionError") or response.get("StatusCode") != 200:
        raise measure.InvokeError(
            f"{name}: {response.get('FunctionError')} {body[:300]!r}\nfunction log tail:\n{log[-1500:]}"
        )
    payload = json.loads(body)
    match = _REPORT_DURATION.findall(log)
    if not match:
        raise measure.InvokeError(f"{name}: no REPORT Duration in the log tail: {log[-300:]!r}")
    return payload, float(match[-1]), wall_ms


def _cpu_point(client: Any, name: str, memory_mb: int, event: dict[str, Any], invokes: int) -> CpuPoint:
    """A first (cold) invoke, then ``invokes`` warm ones; medians of the warm ones."""
    _, _, first_ms = _invoke_cpu(client, name, event)
    handler, report, cpu = [], [], []
    for _ in range(invokes):
        payload, report_ms, _ = _invoke_cpu(client, name, event)
        handler.append(payload["ms"])
        cpu.append(payload["cpu_ms"])
        report.append(report_ms)
    return CpuPoint(
        memory_mb,
        event["work"],
        event["threads"],
        invokes,
        statistics.median(handler),
        statistics.median(report),
        statistics.median(cpu),
        first_ms,
    )


def cpu_curve(result: SandboxResult, invokes: int, progress: Callable[[str], None]) -> None:
    """Fill ``result.cpu``: one function per memory size on one sandboxed server."""
    with tempfile.TemporaryDirectory(prefix="flare-bench-cpu-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            with harness.flare_server(Path(tmp) / "data", log) as server:
                client = harness.lambda_client(server.url)
                for memory_mb in MEMORY_SIZES:
                    try:
                        _cpu_sizes(client, memory_mb, invokes, result, progress)
                    except (measure.InvokeError, BotoCoreError, ClientError) as exc:
                        result.errors.append(f"CPU curve at {memory_mb} MB: {type(exc).__name__}: {exc}")
                        progress(f"sandbox: CPU curve at {memory_mb} MB failed: {exc}")
        except (harness.ServerError, measure.InvokeError, OSError, BotoCoreError, ClientError) as exc:
            result.errors.append(f"CPU curve: {type(exc).__name__}: {exc}\n{_tail(log)}")


def _cpu_sizes(
    client: Any, memory_mb: int, invokes: int, result: SandboxResult, progress: Callable[[str], None]
) -> None:
    """Deploy the CPU function at ``memory_mb`` and add its points to ``result.cpu``."""
    name = f"bench-cpu-{memory_mb}"
    harness.deploy(client, name, source=CPU_HANDLER_SOURCE, memory_mb=memory_mb, timeout_s=120)
    progress(f"sandbox: CPU curve, {memory_mb} MB, 1 thread ({invokes} warm invokes)")
    event: dict[str, Any] = {"work": "squares", "threads": 1}
    result.cpu.append(_cpu_point(client, name, memory_mb, event, invokes))
    if memory_mb in TWO_THREAD_SIZES:
        for threads in (1, 2):
            progress(f"sandbox: CPU, {memory_mb} MB, sha256 x {threads} thread(s)")
            event = {"work": "sha256", "threads": threads}
            result.cpu.append(_cpu_point(client, name, memory_mb, event, invokes))


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---- isolation cost --------------------------------------------------------------------------


def warm_after_idle(endpoint: Endpoint, iterations: int, gap: float) -> LatencyStats:
    """Sequential invokes on one connection, each after ``gap`` seconds idle (so the environment
    was frozen and the invoke includes the thaw); only the invoke is timed."""
    samples: list[float] = []
    with measure.Connection(endpoint) as conn:
        for _ in range(5):
            measure.check_ok(conn.invoke())
        for _ in range(iterations):
            time.sleep(gap)
            start = time.perf_counter()
            response = conn.invoke()
            samples.append(time.perf_counter() - start)
            measure.check_ok(response)
    return LatencyStats.from_seconds(samples)


def _banner(log: Path) -> list[str]:
    """The sandbox lines of Flare's start-up banner (what is on and off)."""
    keys = ("cgroups", "namespaces", "sandbox", "/tmp")
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        text = line.strip().lstrip("-*• ").strip()
        if any(text.startswith(k) for k in keys):
            lines.append(text)
    return lines


def isolation_run(
    label: str, extra_args: tuple[str, ...], settings: Steady, progress: Callable[[str], None]
) -> IsolationRun:
    """Start one server, deploy the hello-world, measure like the main bench plus the frozen warm
    and cold starts at 1769 MB. A failing step is recorded in ``run.error`` and the next runs."""
    run = IsolationRun(label)
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="flare-bench-iso-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            with harness.flare_server(Path(tmp) / "data", log, extra_args=extra_args) as server:
                client = harness.lambda_client(server.url)
                harness.deploy(client)
                endpoint = Endpoint(server.host, server.port, harness.FUNCTION_NAME)
                full = f"{harness.FUNCTION_NAME}-{REFERENCE_MB}"
                full_endpoint = Endpoint(server.host, server.port, full)
                frozen_n = max(50, settings.warm_iterations // 5)

                def cold() -> None:
                    run.cold = measure.cold_starts(
                        endpoint,
                        settings.cold_iterations,
                        lambda i: harness.bump_revision(client, harness.FUNCTION_NAME, i),
                    )

                def cold_full() -> None:
                    harness.deploy(client, full, memory_mb=REFERENCE_MB)
                    measure.time_one_invoke(full_endpoint)
                    run.cold_full_cpu = measure.cold_starts(
                        full_endpoint,
                        settings.cold_iterations,
                        lambda i: harness.bump_revision(client, full, i),
                    )

                def warm() -> None:
                    run.warm = measure.warm_latency(endpoint, settings.warm_iterations, settings.warm_warmup)

                def frozen() -> None:
                    run.warm_frozen = warm_after_idle(endpoint, frozen_n, IDLE_GAP_S)

                def tput() -> None:
                    run.throughput = measure.throughput(
                        endpoint, settings.clients, settings.throughput_warmup, settings.throughput_seconds
                    )

                def first() -> None:
                    run.first_ms = measure.time_one_invoke(endpoint) * 1000

                steps: list[tuple[str, Callable[[], None]]] = [
                    ("first invoke", first),
                    (f"cold starts ({settings.cold_iterations})", cold),
                    (f"warm ({settings.warm_iterations})", warm),
                    (f"warm after {IDLE_GAP_S * 1000:.0f} ms idle ({frozen_n})", frozen),
                    (f"throughput ({settings.clients} clients)", tput),
                    (f"cold starts at {REFERENCE_MB} MB ({settings.cold_iterations})", cold_full),
                ]
                for step, action in steps:
                    progress(f"sandbox: {label}: {step}")
                    try:
                        action()
                    except (measure.InvokeError, OSError, BotoCoreError, ClientError) as exc:
                        errors.append(f"{step}: {type(exc).__name__}: {exc}")
                        progress(f"sandbox: {label}: {step} failed: {exc}")
        except (harness.ServerError, measure.InvokeError, OSError, BotoCoreError, ClientError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(OSError):
            run.banner = _banner(log)  # complete once the server has exited and flushed
        if errors:
            run.error = "; ".join(errors) + "\n" + _tail(log)
    return run


def isolation(result: SandboxResult, settings: Steady, progress: Callable[[str], None]) -> None:
    """Fill ``result.isolation``: sandbox on, then ``--no-sandbox``, one server at a time."""
    result.isolation.append(isolation_run("sandbox on", (), settings, progress))
    result.isolation.append(isolation_run("--no-sandbox", ("--no-sandbox",), settings, progress))


# ---- freezer round trip ----------------------------------------------------------------------


@dataclass
class _Freezable:
    """How to freeze one cgroup and tell when it is frozen."""

    name: str
    """The control file, e.g. ``freezer.state``."""
    path: Path
    freeze: Callable[[], None]
    thaw: Callable[[], None]
    is_frozen: Callable[[], bool]


def _v1(path: Path) -> _Freezable:
    from flare.sandbox.cgroups import EnvCgroup

    group = EnvCgroup(1, {"freezer": path})
    state = path / "freezer.state"
    return _Freezable(
        "freezer.state", path, group.freeze, group.thaw, lambda: state.read_text().strip() == "FROZEN"
    )


def _v2(path: Path) -> _Freezable:
    from flare.sandbox.cgroups import EnvCgroup

    group = EnvCgroup(2, {"unified": path})
    events = path / "cgroup.events"
    return _Freezable(
        "cgroup.freeze", path, group.freeze, group.thaw, lambda: "frozen 1" in events.read_text()
    )


def _hierarchies() -> list[tuple[str, Path, Callable[[Path], _Freezable], str | None]]:
    """(label, parent dir, adapter, state for v1's anchor) for each freezer this host offers;
    Flare's own first.

    Flare uses v2 when ``/sys/fs/cgroup`` is a v2 mount, else v1's freezer, with its anchor
    frozen (``flare.sandbox.cgroups.FREEZER_ANCHOR``); v1 is timed with the anchor thawed too,
    and a hybrid host's ``/sys/fs/cgroup/unified`` v2 freezer, for comparison (Flare leaves it:
    joining it costs a cold start an RCU grace period, see ``flare.sandbox.cgroups``).
    """
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return [("cgroup v2 (Flare's)", root, _v2, None)]
    found: list[tuple[str, Path, Callable[[Path], _Freezable], str | None]] = []
    if (root / "freezer" / "cgroup.procs").exists():
        found.append(("v1 freezer, anchor frozen (Flare's)", root / "freezer", _v1, "FROZEN"))
        found.append(("v1 freezer, anchor thawed", root / "freezer", _v1, "THAWED"))
    if (root / "unified" / "cgroup.controllers").exists():
        found.append(("v2 hybrid `unified` (unused)", root / "unified", _v2, None))
    return found


def _set_anchor(state: str) -> None:
    """Make v1's freezer anchor (if missing) and put it in ``state``."""
    from flare.sandbox.cgroups import FREEZER_ANCHOR

    anchor = Path("/sys/fs/cgroup/freezer") / FREEZER_ANCHOR
    anchor.mkdir(exist_ok=True)
    (anchor / "freezer.state").write_text(state)


def _other_frozen_v1() -> int:
    """v1 freezer cgroups frozen now, the anchor aside (any one keeps the kernel's key on)."""
    from flare.sandbox.cgroups import FREEZER_ANCHOR

    return sum(
        1
        for state in Path("/sys/fs/cgroup/freezer").glob("**/freezer.state")
        if state.parent.name != FREEZER_ANCHOR and state.read_text().strip() != "THAWED"
    )


@contextlib.contextmanager
def _sleeper_in(path: Path, adapter: Callable[[Path], _Freezable]) -> Iterator[_Freezable]:
    """A new cgroup at ``path`` holding one ``sleep`` child; thawed, killed and removed after."""
    path.mkdir()
    child: subprocess.Popen[bytes] | None = None
    freezable = adapter(path)
    try:
        child = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL)
        (path / "cgroup.procs").write_text(str(child.pid))
        yield freezable
    finally:
        with contextlib.suppress(OSError):
            freezable.thaw()  # a frozen process cannot die
        if child is not None:
            child.kill()
            child.wait()
        for _ in range(100):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


def _time_freezer(freezable: _Freezable, iterations: int, label: str) -> list[FreezerStats]:
    freeze_write, frozen, thaw_write, round_trip = [], [], [], []
    clock = time.perf_counter
    for _ in range(iterations):
        t0 = clock()
        freezable.freeze()
        t1 = clock()
        while not freezable.is_frozen():
            pass
        t2 = clock()
        freezable.thaw()
        t3 = clock()
        freeze_write.append(t1 - t0)
        frozen.append(t2 - t0)
        thaw_write.append(t3 - t2)
        round_trip.append(t3 - t0)
    return [
        FreezerStats.from_seconds(f"{label}: freeze write", freeze_write),
        FreezerStats.from_seconds(f"{label}: freeze until reported frozen", frozen),
        FreezerStats.from_seconds(f"{label}: **thaw write** (on the invoke's path)", thaw_write),
        FreezerStats.from_seconds(f"{label}: round trip (freeze, wait frozen, thaw)", round_trip),
    ]


def _proc_state(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2]


def _time_sigstop(iterations: int) -> list[FreezerStats]:
    """SIGSTOP, wait until /proc says stopped, SIGCONT: the ``--no-sandbox`` freeze."""
    child = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL)
    stop, cont, round_trip = [], [], []
    clock = time.perf_counter
    try:
        for _ in range(iterations):
            t0 = clock()
            os.kill(child.pid, signal.SIGSTOP)
            while _proc_state(child.pid) != "T":
                pass
            t1 = clock()
            os.kill(child.pid, signal.SIGCONT)
            t2 = clock()
            stop.append(t1 - t0)
            cont.append(t2 - t1)
            round_trip.append(t2 - t0)
    finally:
        child.kill()
        child.wait()
    return [
        FreezerStats.from_seconds("SIGSTOP until stopped (`--no-sandbox`)", stop),
        FreezerStats.from_seconds("**SIGCONT** (`--no-sandbox` thaw)", cont),
        FreezerStats.from_seconds("SIGSTOP round trip", round_trip),
    ]


def freezer(result: SandboxResult, iterations: int, progress: Callable[[str], None]) -> None:
    """Fill ``result.freezer``: each cgroup freezer on this host, then SIGSTOP/SIGCONT."""
    if os.geteuid() != 0:
        result.freezer_notes.append("cgroup freezer not measured: not root")
    else:
        hierarchies = _hierarchies()
        if not hierarchies:
            result.freezer_notes.append("cgroup freezer not measured: no v1 freezer or v2 hierarchy")
        for label, parent, adapter, anchor in hierarchies:
            path = parent / f"flare-bench-{os.getpid()}"
            progress(f"sandbox: freezer, {label} ({iterations} round trips)")
            try:
                if anchor is not None:
                    _set_anchor(anchor)
                    others = _other_frozen_v1()
                    result.freezer_notes.append(f"{label}: {others} other v1 cgroups were frozen meanwhile")
                with _sleeper_in(path, adapter) as freezable:
                    if not (path / freezable.name).exists():
                        result.freezer_notes.append(f"{label}: no `{freezable.name}` in {path}")
                        continue
                    result.freezer.extend(_time_freezer(freezable, iterations, label))
                    result.freezer_notes.append(f"{label}: `{path}/{freezable.name}`, removed after")
            except OSError as exc:
                result.freezer_notes.append(f"{label}: not measured: {type(exc).__name__}: {exc}")
            finally:
                if anchor is not None:
                    with contextlib.suppress(OSError):
                        _set_anchor("FROZEN")  # as Flare keeps it
    progress(f"sandbox: SIGSTOP/SIGCONT ({iterations} round trips)")
    result.freezer.extend(_time_sigstop(iterations))


# ---- entry point and report ------------------------------------------------------------------


def run(settings: Steady, quick: bool, progress: Callable[[str], None]) -> SandboxResult:
    """All three sandbox measurements; failures are recorded in the result, not raised."""
    result = SandboxResult(host_cpus=len(os.sched_getaffinity(0)))
    cpu_curve(result, 3 if quick else 7, progress)
    isolation(result, settings, progress)
    freezer(result, 300 if quick else 2000, progress)
    return result


def _f(value: float | None, decimals: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{decimals}f}"


def _cpu_table(result: SandboxResult) -> str:
    single = [p for p in result.cpu if p.work == "squares"]
    if not single:
        return ""
    ref = next((p for p in single if p.memory_mb == REFERENCE_MB), None)
    lines = [
        "**CPU share vs MemorySize**: one thread, pure-Python loop (sum of 1.6 M squares), "
        f"median of {single[0].count} warm invokes per size.",
        "",
        "| MemorySize (MB) | CPU quota (vCPU) | handler (ms) | REPORT Duration (ms) | handler CPU (ms) "
        "| slower than 1769 MB | expected | cold invoke, INIT + work (ms) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in single:
        quota = min(p.memory_mb / 1769, 6.0, float(result.host_cpus))
        ratio = f"{p.handler_ms / ref.handler_ms:.2f}x" if ref else "n/a"
        expected = f"{max(1.0, 1769 / p.memory_mb):.2f}x"
        lines.append(
            f"| {p.memory_mb} | {quota:.3f} | {_f(p.handler_ms, 1)} | {_f(p.report_ms, 1)} | "
            f"{_f(p.cpu_ms, 1)} | {ratio} | {expected} | {_f(p.first_ms, 1)} |"
        )
    double = [p for p in result.cpu if p.work != "squares"]
    if double:
        lines += [
            "",
            f"**Second vCPU** ({result.host_cpus}-core host): sha256 over 96 x 1 MiB per thread "
            "(releases the GIL), median of warm invokes.",
            "",
            "| MemorySize (MB) | threads | handler (ms) | REPORT Duration (ms) "
            "| handler CPU, all threads (ms) | vs same threads at 1769 MB |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for p in double:
            base = next((q for q in double if q.memory_mb == REFERENCE_MB and q.threads == p.threads), None)
            speed = f"{base.handler_ms / p.handler_ms:.2f}x faster" if base else "n/a"
            lines.append(
                f"| {p.memory_mb} | {p.threads} | {_f(p.handler_ms, 1)} | {_f(p.report_ms, 1)} | "
                f"{_f(p.cpu_ms, 1)} | {speed} |"
            )
    return "\n".join(lines)


def _isolation_table(result: SandboxResult) -> str:
    runs = {run.label: run for run in result.isolation}
    on, off = runs.get("sandbox on"), runs.get("--no-sandbox")
    if on is None or off is None:
        return ""

    def lat(run: IsolationRun, attr: str, stat: str) -> float | None:
        value = getattr(run, attr)
        return getattr(value, stat) if value else None

    def tput(run: IsolationRun) -> float | None:
        return run.throughput.per_second if run.throughput else None

    rows: list[
        tuple[str, str, Callable[[IsolationRun], float | None], Callable[[float, float], bool] | None, int]
    ] = [
        (
            "cold start p50 (ms)",
            "≤ --no-sandbox + 5",
            lambda r: lat(r, "cold", "p50_ms"),
            lambda a, b: a <= b + 5,
            2,
        ),
        ("cold start p99 (ms)", "", lambda r: lat(r, "cold", "p99_ms"), None, 2),
        (
            f"cold start p50 (ms), same handler at {REFERENCE_MB} MB",
            "",
            lambda r: lat(r, "cold_full_cpu", "p50_ms"),
            None,
            2,
        ),
        ("first invoke (ms)", "", lambda r: r.first_ms, None, 2),
        (
            "warm p50 (ms), back to back",
            "< 0.7",
            lambda r: lat(r, "warm", "p50_ms"),
            lambda a, _b: a < 0.7,
            3,
        ),
        ("warm p99 (ms), back to back", "", lambda r: lat(r, "warm", "p99_ms"), None, 3),
        (
            f"warm p50 (ms), after {IDLE_GAP_S * 1000:.0f} ms idle (frozen → thaw)",
            "< 0.7",
            lambda r: lat(r, "warm_frozen", "p50_ms"),
            lambda a, _b: a < 0.7,
            3,
        ),
        (
            f"warm p99 (ms), after {IDLE_GAP_S * 1000:.0f} ms idle",
            "",
            lambda r: lat(r, "warm_frozen", "p99_ms"),
            None,
            3,
        ),
        ("throughput, 8 clients (inv/s)", "", tput, None, 0),
    ]
    lines = [
        "**Isolation cost**: the main bench's hello-world (128 MB) on a sandboxed server and on "
        "`flare serve --no-sandbox`, one after the other in this run.",
        "",
        "| metric | target (sandbox) | sandbox on | --no-sandbox | difference |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for label, target, value, meets, decimals in rows:
        a, b = value(on), value(off)
        a_text = _f(a, decimals)
        if a is not None and b is not None and meets is not None:
            a_text += " ✓" if meets(a, b) else " ✗"
        diff = f"{a - b:+,.{decimals}f}" if a is not None and b is not None else "n/a"
        lines.append(f"| {label} | {target} | {a_text} | {_f(b, decimals)} | {diff} |")
    return "\n".join(lines)


def _freezer_table(result: SandboxResult) -> str:
    if not result.freezer:
        return ""
    lines = [
        "**Freeze/thaw cost**, timed directly in the bench process on a cgroup holding one sleeping "
        "child (µs).",
        "",
        "| step | n | p50 (µs) | p99 (µs) | max (µs) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for s in result.freezer:
        lines.append(f"| {s.label} | {s.count} | {s.p50_us:,.1f} | {s.p99_us:,.1f} | {s.max_us:,.1f} |")
    return "\n".join(lines)


def render(result: SandboxResult) -> str:
    """The markdown sub-section: three tables and the notes."""
    parts = ["### Sandbox", ""]
    for table in (_cpu_table(result), _isolation_table(result), _freezer_table(result)):
        if table:
            parts += [table, ""]
    notes = [
        "- this is a 2-core machine shared with other processes, which may add noise to every "
        f"figure (the CPU curve most: CFS quotas are enforced per {CFS_PERIOD_US / 1000:g} ms period)",
        "- CPU quota = min(MemorySize/1769, 6, host cores) vCPU via CFS (`cpu.cfs_quota_us` per "
        f"{CFS_PERIOD_US / 1000:g} ms; INIT bursts to {INIT_BURST_CPUS:g} vCPU); "
        "handler ms = `time.perf_counter` around the work inside the handler; REPORT "
        "Duration from `LogType=Tail` (it also covers the runtime client's work after the handler "
        "returns, which under a small quota may wait for the next CFS period); cold invoke = boto3 "
        "wall time of the first invoke after CreateFunction (INIT + the work)",
        "- two-thread handler: `hashlib.sha256` over 1 MiB blocks releases the GIL, so two threads can "
        "use two cores; handler CPU = `time.process_time` (all threads)",
        f"- warm after idle: {IDLE_GAP_S * 1000:.0f} ms sleep before each timed invoke, past the pool's "
        "batched freeze (FREEZE_DELAY_S = 1 ms), so each invoke thaws a frozen environment "
        "(cgroup freezer with the sandbox, SIGCONT without); back-to-back invokes arrive within "
        "the batching window and usually skip the freeze",
    ]
    for run in result.isolation:
        if run.banner:
            notes.append(f"- {run.label}: server banner: " + "; ".join(f"`{b}`" for b in run.banner))
        if run.cold and run.warm and run.throughput:
            t = run.throughput
            notes.append(
                f"- {run.label}: cold n={run.cold.count} (max {run.cold.max_ms:.1f} ms); warm "
                f"n={run.warm.count}; after idle n={run.warm_frozen.count if run.warm_frozen else 0}; "
                f"throughput {t.completed:,} invokes in {t.seconds:.1f} s, {t.errors} errors"
            )
        if run.error:
            notes.append(f"- **{run.label} failed**: {_block(run.error)}")
    notes += [f"- freezer: {n}" for n in result.freezer_notes]
    notes += [f"- **failed**: {_block(e)}" for e in result.errors]
    parts.append("\n".join(notes))
    return "\n".join(parts) + "\n"


def _block(text: str) -> str:
    first, _, rest = text.partition("\n")
    if not rest.strip():
        return first
    body = "\n".join(f"  {line}" for line in rest.strip("\n").splitlines())
    return f"{first}\n\n  ```\n{body}\n  ```"
