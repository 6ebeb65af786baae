"""Another runtime beside Python: cold and warm latency of the same hello-world, one server.

One ``flare serve`` (sandboxed); functions answering ``{"ok": true}`` at the runtime's memory
size: Python's (``python3.11``, the main bench's) and the other runtime's, twice. Cold starts are
interleaved (Python, the runtime, the runtime "later", Python, ...), each the invoke right after
UpdateFunctionConfiguration changed an environment variable: the runtime's cold start then
takes a spare (``placement/spares.py``): the one that update started, still booting (Java), or a
late-bound one started before (Node.js, ``Beside.spares``); "later" waits the runtime's
``spare_boot_s`` first, so a spare the update started has booted. Then sequential warm invokes.
``bench.node`` and ``bench.java`` describe their runtime (``Beside``) and call ``run``/``render``.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from bench import harness, measure
from bench.layers import interleaved_cold_starts
from bench.measure import Endpoint, LatencyStats

PYTHON = "bench-hello-python"


@dataclass(frozen=True)
class Beside:
    """The runtime measured beside Python: ``key`` names its functions and progress lines,
    ``title`` its section; ``code`` makes its hello-world's zip in a scratch directory (OSError
    or CalledProcessError when the host cannot)."""

    key: str
    title: str
    runtime: str
    handler: str
    memory_mb: int
    spare_boot_s: float
    code: Callable[[Path], bytes]
    spares: str = (
        "the spare the update started, still booting right after the update, booted {boot} s after it"
    )
    """What a cold start takes, for the report (``{boot}``: ``spare_boot_s``)."""


@dataclass
class BesideResult:
    """Cold and warm latency of each runtime's hello-world, or why they were not measured;
    ``first_ms`` is the runtime's first invoke after CreateFunction."""

    first_ms: float | None = None
    python_cold: LatencyStats | None = None
    cold: LatencyStats | None = None
    later_cold: LatencyStats | None = None
    python_warm: LatencyStats | None = None
    warm: LatencyStats | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def _deploy(client: object, beside: Beside, name: str, code: bytes) -> None:
    client.create_function(  # type: ignore[attr-defined]
        FunctionName=name,
        Runtime=beside.runtime,
        Role=harness.ROLE,
        Handler=beside.handler,
        Code={"ZipFile": code},
        MemorySize=beside.memory_mb,
        Timeout=30,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name)  # type: ignore[attr-defined]


def run(
    beside: Beside, cold_iterations: int, warm_iterations: int, warmup: int, progress: Callable[[str], None]
) -> BesideResult:
    result = BesideResult()
    name, later = f"bench-hello-{beside.key}", f"bench-hello-{beside.key}-later"
    with tempfile.TemporaryDirectory(prefix=f"flare-bench-{beside.key}-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            code = beside.code(Path(tmp))
            with harness.flare_server(Path(tmp) / "data", log) as server:
                client = harness.lambda_client(server.url)
                harness.deploy(client, PYTHON)
                _deploy(client, beside, name, code)
                _deploy(client, beside, later, code)
                endpoints = [Endpoint(server.host, server.port, each) for each in (PYTHON, name, later)]
                python, other, _ = endpoints
                # Each function's first invoke; after them the zygote is warm for all.
                firsts = [measure.time_one_invoke(endpoint) for endpoint in endpoints]
                result.first_ms = firsts[1] * 1000
                progress(f"{beside.key}: {cold_iterations} cold starts each of Python, it and it later")

                def force_cold(function: str, i: int) -> None:
                    harness.bump_revision(client, function, i)
                    if function == later:
                        time.sleep(beside.spare_boot_s)

                result.python_cold, result.cold, result.later_cold = interleaved_cold_starts(
                    endpoints, cold_iterations, force_cold
                )
                progress(f"{beside.key}: warm latency ({warm_iterations} sequential invokes each)")
                result.python_warm = measure.warm_latency(python, warm_iterations, warmup)
                result.warm = measure.warm_latency(other, warm_iterations, warmup)
        except (
            harness.ServerError,
            measure.InvokeError,
            OSError,
            subprocess.CalledProcessError,
            BotoCoreError,
            ClientError,
        ) as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            result.error = f"{type(exc).__name__}: {exc}\n{tail}"
    return result


def _row(label: str, stats: LatencyStats | None) -> str:
    if stats is None:
        return f"| {label} | - | - | - | - |"
    return f"| {label} | {stats.count} | {stats.p50_ms:.2f} | {stats.p99_ms:.2f} | {stats.max_ms:.2f} |"


def render(beside: Beside, result: BesideResult) -> str:
    """The markdown sub-section: cold and warm rows of each runtime, then the notes."""
    runtime, boot = beside.runtime, beside.spare_boot_s
    lines = [
        f"### {beside.title} beside Python: hello-world at {beside.memory_mb} MB, same server",
        "",
        "| invoke | n | p50 (ms) | p99 (ms) | max (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
        _row("python3.11 cold", result.python_cold),
        _row(f"{runtime} cold, at once after the update", result.cold),
        _row(f"{runtime} cold, {boot} s after the update", result.later_cold),
        _row("python3.11 warm", result.python_warm),
        _row(f"{runtime} warm", result.warm),
        "",
        "- cold start = the invoke right after UpdateFunctionConfiguration changed env var `BUMP`; "
        f"Python and {beside.title} taken in turn; a {beside.title} cold start takes "
        + beside.spares.format(boot=boot),
    ]
    if result.error:
        lines.append(f"- not measured: {result.error.splitlines()[0]}")
        lines += ["", "```", *result.error.splitlines()[1:], "```"]
    return "\n".join(lines) + "\n"
