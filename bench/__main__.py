"""CLI: ``python -m bench [--only flare|peer|sandbox|provisioned|snapstart|events|layers|node|
extensions|java|hotreload|durable|build|scale] [--quick] [--no-record]``.

Runs Flare and/or serverless-offline through the same measurements, then the sandbox
benchmarks (:mod:`bench.sandbox`: CPU share vs MemorySize, sandbox vs ``--no-sandbox``,
freezer cost), the provisioned-concurrency, SnapStart and event source benchmarks
(:mod:`bench.events`: SQS and Kinesis → function throughput), the cost of layers on a cold
start (:mod:`bench.layers`), Node.js and Java cold and warm latency beside Python's
(:mod:`bench.node`, :mod:`bench.java`; Node.js's also beside serverless-offline's), the cost
of an external extension (:mod:`bench.extensions`) and a saved edit's way to the next invoke
under hot reload (:mod:`bench.hot_reload`), and what a durable execution costs beside a plain
invoke (:mod:`bench.durable`) and ``flare deploy``'s build step on a cache miss and hit
(:mod:`bench.build`), prints the markdown on stdout (progress goes to stderr) and
appends it to bench/RESULTS.md unless ``--no-record``. The scale benchmark (:mod:`bench.scale`:
up to 1,000 provisioned environments) runs only when asked for, with ``--only scale``.
Exit status: see :func:`exit_status`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from bench import (
    beside_python,
    build,
    durable,
    events,
    extensions,
    harness,
    hot_reload,
    java,
    layers,
    measure,
    node,
    peer,
    provisioned,
    report,
    sandbox,
    scale,
    snapstart,
)
from bench.report import EngineResult


@dataclass(frozen=True)
class Settings:
    """How many samples and seconds each measurement gets."""

    cold_iterations: int = 40
    warm_iterations: int = 2000
    warm_warmup: int = 200
    clients: int = 8
    throughput_seconds: float = 5.0
    throughput_warmup: float = 1.5
    trace: bool = False  # run flare serve --trace (the recorder's cost on the invoke path)


HOT_RELOAD_EDITS = 20

QUICK = Settings(cold_iterations=10, warm_iterations=300, warm_warmup=50, throughput_seconds=2.0)

# What a failing engine may raise; anything else is a bug in the bench and propagates.
_FAILURES = (
    harness.ServerError,
    peer.PeerUnavailable,
    measure.InvokeError,
    OSError,
    subprocess.SubprocessError,
)


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


ONE_VCPU_FUNCTION = "bench-hello-1vcpu"


def measure_steady(
    result: EngineResult, endpoint: measure.Endpoint, settings: Settings, throughput: bool = True
) -> None:
    """Fill ``result.warm`` and (if ``throughput``) ``result.throughput`` against a ready endpoint."""
    progress(f"{result.name}: warm latency ({settings.warm_iterations} sequential invokes)")
    result.warm = measure.warm_latency(endpoint, settings.warm_iterations, settings.warm_warmup)
    if not throughput:
        return
    progress(f"{result.name}: throughput ({settings.clients} clients, {settings.throughput_seconds:.0f} s)")
    result.throughput = measure.throughput(
        endpoint, settings.clients, settings.throughput_warmup, settings.throughput_seconds
    )


def flare_version() -> str:
    """``flare X.Y.Z`` for the installed flare package, or "" if it is not installed."""
    try:
        return f"flare {importlib.metadata.version('flare')}"
    except importlib.metadata.PackageNotFoundError:
        return ""


def bench_flare(settings: Settings) -> EngineResult:
    """Start Flare in a temp data dir, deploy, measure first/cold/warm/throughput.

    Failures are recorded in ``result.error`` (with the tail of Flare's log) rather than raised.
    """
    result = EngineResult("flare", version=flare_version())
    with tempfile.TemporaryDirectory(prefix="flare-bench-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            measure_flare(result, Path(tmp) / "data", log, settings)
        except (*_FAILURES, BotoCoreError, ClientError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            if log.exists() and not isinstance(exc, harness.ServerError):  # ServerError has it already
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                result.error += f"\n--- flare log (last 30 lines) ---\n{tail}"
    return result


def measure_flare(result: EngineResult, data_dir: Path, log: Path, settings: Settings) -> None:
    """Run ``flare serve``, deploy the function and fill every measurement in ``result``."""
    progress("flare: starting")
    extra = ["--trace", str(data_dir.parent / "trace.jsonl")] if settings.trace else []
    with harness.flare_server(data_dir, log, extra_args=extra) as server:
        client = harness.lambda_client(server.url)
        harness.deploy(client)
        endpoint = measure.Endpoint(server.host, server.port, harness.FUNCTION_NAME)
        result.first_ms = measure.time_one_invoke(endpoint) * 1000
        progress(f"flare: cold starts ({settings.cold_iterations}, one revision bump each)")
        result.cold = measure.cold_starts(
            endpoint,
            settings.cold_iterations,
            lambda i: harness.bump_revision(client, harness.FUNCTION_NAME, i),
        )
        measure_steady(result, endpoint, settings)
        progress(f"flare: warm latency at 1769 MB ({settings.warm_iterations} sequential invokes)")
        harness.deploy(client, ONE_VCPU_FUNCTION, memory_mb=1769)
        one_vcpu = measure.Endpoint(server.host, server.port, ONE_VCPU_FUNCTION)
        result.warm_one_vcpu = measure.warm_latency(one_vcpu, settings.warm_iterations, settings.warm_warmup)
        progress(f"flare: throughput at 1769 MB ({settings.clients} clients)")
        result.throughput_one_vcpu = measure.throughput(
            one_vcpu, settings.clients, settings.throughput_warmup, settings.throughput_seconds
        )
        result.notes.append(
            "cold start = the invoke right after UpdateFunctionConfiguration changed env var "
            "`BUMP` (after function_updated_v2); first invoke = the first call after CreateFunction"
        )


def bench_peer(
    settings: Settings, function: peer.PeerFunction = peer.PYTHON, throughput: bool = True
) -> EngineResult:
    """Install (if needed) and run serverless-offline; measure ``function``'s first invoke, warm
    latency and (if ``throughput``) throughput, then its cold starts.

    Cold starts use a second instance with ``--reloadHandler`` (a new Python process or Node.js
    worker thread per invoke). Failures are recorded in ``result.error`` rather than raised.
    """
    result = EngineResult("serverless-offline")
    try:
        versions = peer.ensure_installed()
        result.version = ", ".join(f"{k} {v}" for k, v in versions.items()) + f", node {peer.node_version()}"
        logs = peer.PEER_DIR / "logs"
        progress(f"serverless-offline: starting ({function.runtime})")
        with peer.peer_server(logs / f"{function.key}.log", function=function) as running:
            endpoint = measure.Endpoint(running.server.host, running.lambda_port, running.function)
            result.first_ms = measure.time_one_invoke(endpoint) * 1000
            measure_steady(result, endpoint, settings, throughput)
            if throughput:
                result.warm_one_vcpu = result.warm  # it limits no CPU: the same figures
                result.throughput_one_vcpu = result.throughput
        progress(f"serverless-offline: cold starts ({settings.cold_iterations}, --reloadHandler)")
        reload_log = logs / f"{function.key}-reload.log"
        with peer.peer_server(reload_log, function=function, reload_handler=True) as running:
            endpoint = measure.Endpoint(running.server.host, running.lambda_port, running.function)
            result.cold = measure.cold_starts(endpoint, settings.cold_iterations, lambda _i: None)
            result.notes.append(
                f"invoke name `{running.function}`; cold start = {function.reload_starts} per invoke "
                "(`--reloadHandler`); first invoke = the first call after start"
            )
    except _FAILURES as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def command_line(argv: list[str]) -> str:
    """The command as typed from the repo root, e.g. ``.venv/bin/python -m bench --quick``."""
    exe = Path(sys.executable)
    try:
        shown = str(exe.relative_to(harness.REPO))
    except ValueError:
        shown = str(exe)
    return shlex.join([shown, "-m", "bench", *argv])


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the CLI flags (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=(
            "flare",
            "peer",
            "sandbox",
            "provisioned",
            "snapstart",
            "events",
            "layers",
            "node",
            "extensions",
            "java",
            "hotreload",
            "durable",
            "build",
            "scale",
        ),
        help="run one engine, or the sandbox or provisioned-concurrency benchmarks, only",
    )
    parser.add_argument("--quick", action="store_true", help="fewer iterations, shorter throughput run")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    parser.add_argument(
        "--trace", action="store_true", help="Flare records every invocation (flare serve --trace)"
    )
    return parser.parse_args(argv)


def _beside(
    runtime: beside_python.Beside, settings: Settings, progress: Callable[[str], None]
) -> beside_python.BesideResult:
    """``runtime`` measured beside Python with the run's iteration counts."""
    return beside_python.run(
        runtime, settings.cold_iterations, settings.warm_iterations, settings.warm_warmup, progress
    )


def main(argv: list[str] | None = None) -> int:
    """Run the bench; see the module docstring for outputs and exit status."""
    args_list = sys.argv[1:] if argv is None else argv
    args = parse_args(args_list)
    settings = dataclasses.replace(QUICK if args.quick else Settings(), trace=args.trace)
    flare = bench_flare(settings) if args.only in (None, "flare") else None
    peer_result = bench_peer(settings) if args.only in (None, "peer") else None
    sandbox_result = sandbox.run(settings, args.quick, progress) if args.only in (None, "sandbox") else None
    extra = sandbox.render(sandbox_result) if sandbox_result is not None else ""
    pc_result = provisioned.run(args.quick, progress) if args.only in (None, "provisioned") else None
    extra += provisioned.render(pc_result) if pc_result is not None else ""
    snap_result = snapstart.run(args.quick, progress) if args.only in (None, "snapstart") else None
    extra += snapstart.render(snap_result) if snap_result is not None else ""
    events_result = events.run(args.quick, progress) if args.only in (None, "events") else None
    extra += events.render(events_result) if events_result is not None else ""
    layers_result = layers.run(settings.cold_iterations, progress) if args.only in (None, "layers") else None
    extra += layers.render(layers_result) if layers_result is not None else ""
    node_result = None
    if args.only in (None, "node"):
        node_result = _beside(node.NODE, settings, progress)
        extra += node.render(node_result, bench_peer(settings, peer.NODE, throughput=False))
    ext_result = None
    if args.only in (None, "extensions"):
        ext_result = extensions.run(settings.cold_iterations, settings.warm_iterations // 4, progress)
        extra += extensions.render(ext_result)
    java_result = _beside(java.JAVA, settings, progress) if args.only in (None, "java") else None
    extra += beside_python.render(java.JAVA, java_result) if java_result is not None else ""
    hot_result = hot_reload.run(HOT_RELOAD_EDITS, progress) if args.only in (None, "hotreload") else None
    extra += hot_reload.render(hot_result) if hot_result is not None else ""
    durable_result = (
        durable.run(settings.cold_iterations, progress) if args.only in (None, "durable") else None
    )
    extra += durable.render(durable_result) if durable_result is not None else ""
    build_result = build.run(progress) if args.only in (None, "build") else None
    extra += build.render(build_result) if build_result is not None else ""
    scale_result = scale.run(settings.cold_iterations, args.quick, progress) if args.only == "scale" else None
    extra += scale.render(scale_result) if scale_result is not None else ""
    section = report.render(command_line(args_list), flare, peer_result, extra)
    print(section)
    if not args.no_record:
        report.append(section)
        progress(f"appended to {report.RESULTS}")
    unmeasured = (
        (snap_result, "snapstart benchmark: some parts not measured"),
        (events_result, "event source benchmark: some parts not measured"),
        (layers_result, "layers benchmark: some parts not measured"),
        (ext_result, "extensions benchmark: not measured"),
        (node_result, "node benchmark: some parts not measured"),
        (java_result, "java benchmark: some parts not measured"),
        (hot_result, "hot reload benchmark: some parts not measured"),
        (durable_result, "durable benchmark: not measured"),
        (build_result, "build benchmark: not measured"),
        (scale_result, "scale benchmark: some sizes not measured"),
        (pc_result, "provisioned concurrency benchmark: failed or not as expected"),
    )
    for result, message in unmeasured:
        if result is not None and result.failed:
            progress(f"{message} (see the report)")
            return 1
    return exit_status(args.only, flare, peer_result, sandbox_result)


def exit_status(
    only: str | None,
    flare: EngineResult | None,
    peer_result: EngineResult | None,
    sandbox_result: sandbox.SandboxResult | None = None,
) -> int:
    """1 if Flare (or a server-side sandbox benchmark) was asked for and not measured, or
    ``--only peer`` and the peer failed; else 0.

    A missing peer alone does not fail a full run: the report says why it is missing.
    """
    for r in (flare, peer_result):
        if r is not None and r.error:
            progress(f"not measured: {r.name}: {r.error.splitlines()[0]}")
    if flare is not None and flare.error:
        return 1
    if sandbox_result is not None and sandbox_result.failed:
        progress("sandbox benchmarks: some parts not measured (see the report)")
        return 1
    return 1 if only == "peer" and peer_result is not None and peer_result.error else 0


if __name__ == "__main__":
    sys.exit(main())
