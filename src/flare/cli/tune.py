"""``flare tune NAME``: AWS Lambda Power Tuning's job, on Flare: run a function at several memory
sizes and say which is cheapest, fastest or the best compromise.

For each size: one cold start, then ``--invokes`` warm invocations, each timed by its REPORT
line (``LogType=Tail``: Duration, Billed Duration at 1 ms, Init Duration, Max Memory Used) and
priced with AWS's prices (``observe/pricing.py``). The statistics and strategies are Power
Tuning's (``observe/tuning.py``).

The function itself is never changed: each size runs on a temporary copy of it (same code,
handler, runtime, role, environment, layers, timeout, architecture, ephemeral storage, log
format; ``<name>-tune<MB>-<random>``), deleted at the end, on an error and on Ctrl-C or
SIGTERM. Power Tuning instead changes ``$LATEST``'s memory and publishes a version per size:
anyone invoking the function meanwhile would get the size being measured, and version numbers
are used up for good. A copy costs a code upload per size and has another name (its context's
``function_name``); SnapStart, tenant isolation and durable execution are not copied.

Cold starts run one at a time (INIT bursts to two vCPUs, see ``sandbox/cgroups.py``); the
warm invocations of several sizes run side by side when the CPU their memory buys adds up to
what the host has, less a quarter of a vCPU for the engine (``tuning.plan_batches``; on a
2-vCPU host 128-1024 MB share one batch, 1536, 2048 and 3008 MB run alone). Each size's
invocations are sequential, so they stay on one warm environment.

Exit status: 0 with a result, 1 when Flare refused something or the function failed, 2 for a
bad command line.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from flare.cli.client import CommandFailed, endpoint_option, lambda_client, reported_errors, resolve_endpoint
from flare.cli.invoke import decode_log_tail, parse_payload, report_line

if TYPE_CHECKING:
    import threading

    from flare.observe.tuning import Row, Sample

ACTIVE_WAIT_S = 60.0
ACTIVE_POLL_S = 0.05
COPIED_SETTINGS = ("Runtime", "Handler", "Role", "Timeout", "Architectures")


def copy_settings(configuration: dict[str, Any]) -> dict[str, Any]:
    """CreateFunction's arguments for a copy of a function (GetFunction's ``Configuration``),
    without its name, code and memory size. Raises CommandFailed for what cannot be copied."""
    if configuration.get("PackageType", "Zip") != "Zip":
        raise CommandFailed("flare tune needs a function packaged as a .zip")
    if configuration.get("DurableConfig"):
        raise CommandFailed("flare tune cannot run a durable function's copies")
    settings = {key: configuration[key] for key in COPIED_SETTINGS if key in configuration}
    variables = (configuration.get("Environment") or {}).get("Variables")
    if variables:
        settings["Environment"] = {"Variables": variables}
    if configuration.get("Layers"):
        settings["Layers"] = [layer["Arn"] for layer in configuration["Layers"]]
    if configuration.get("EphemeralStorage"):
        settings["EphemeralStorage"] = configuration["EphemeralStorage"]
    log_format = (configuration.get("LoggingConfig") or {}).get("LogFormat")
    if log_format:
        settings["LoggingConfig"] = {"LogFormat": log_format}
    return settings


def copy_name(name: str, memory_mb: int, token: str) -> str:
    """A copy's name: ``<name>-tune<MB>-<token>``, the name cut to fit Lambda's 64 characters."""
    suffix = f"-tune{memory_mb}-{token}"
    return name[: 64 - len(suffix)] + suffix


class Copies:
    """The temporary copies of one function, one per memory size (see the module docstring)."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        function = client.get_function(FunctionName=name)
        self.configuration: dict[str, Any] = function["Configuration"]
        self._settings = copy_settings(self.configuration)
        with urllib.request.urlopen(function["Code"]["Location"], timeout=60) as reply:
            self._code = reply.read()
        self._token = os.urandom(3).hex()
        self._name = name
        self.names: dict[int, str] = {}

    def make(self, memory_mb: int) -> str:
        copy = copy_name(self._name, memory_mb, self._token)
        self._client.create_function(
            FunctionName=copy, Code={"ZipFile": self._code}, MemorySize=memory_mb, **self._settings
        )
        self.names[memory_mb] = copy
        self._wait_active(copy)
        return copy

    def _wait_active(self, copy: str) -> None:
        """Until the copy's State is Active (Pending while Flare prepares its code)."""
        deadline = time.monotonic() + ACTIVE_WAIT_S
        while True:
            state = self._client.get_function_configuration(FunctionName=copy).get("State", "Active")
            if state == "Active":
                return
            if state == "Failed" or time.monotonic() > deadline:
                raise CommandFailed(f"the copy {copy} did not become Active (State {state})")
            time.sleep(ACTIVE_POLL_S)

    def remove(self) -> list[str]:
        """Delete every copy made; the names that could not be deleted."""
        left = []
        for copy in self.names.values():
            try:
                self._client.delete_function(FunctionName=copy)
            except Exception:
                left.append(copy)
        return left


def invoke_once(client: Any, name: str, payload: bytes) -> Sample:
    """One synchronous invocation's REPORT figures. Raises CommandFailed when the function
    failed (a tune of a failing function would price its errors)."""
    from flare.observe.tuning import parse_report

    response = client.invoke(FunctionName=name, Payload=payload, LogType="Tail")
    body = response["Payload"].read()
    tail = decode_log_tail(response.get("LogResult"))
    if response.get("FunctionError"):
        raise CommandFailed(f"the function failed at {name}: {body.decode(errors='replace')[:300]}")
    line = report_line(tail)
    sample = parse_report(line) if line else None
    if sample is None:
        raise CommandFailed(f"no REPORT line in the log of an invocation of {name}")
    return sample


def warm_runs(endpoint: str, name: str, payload: bytes, count: int, stop: threading.Event) -> list[Sample]:
    """``count`` sequential invocations of one copy (stops early once ``stop`` is set)."""
    client = lambda_client(endpoint)
    samples = []
    for _ in range(count):
        if stop.is_set():
            break
        samples.append(invoke_once(client, name, payload))
    return samples


def measure(
    endpoint: str, copies: Copies, sizes: list[int], payload: bytes, invokes: int, host_cpus: int
) -> dict[int, list[Sample]]:
    """Every size's samples: the cold starts one by one, then the warm runs in batches."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from flare.observe.tuning import plan_batches

    client = lambda_client(endpoint)
    samples = {size: [invoke_once(client, copies.make(size), payload)] for size in sizes}
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=len(sizes))
    try:
        for batch in plan_batches(sizes, host_cpus):
            runs = {
                size: pool.submit(warm_runs, endpoint, copies.names[size], payload, invokes, stop)
                for size in batch
            }
            for size, run in runs.items():
                samples[size] += run.result()
    finally:
        # no waiting here for invocations in flight: deleting the copies ends them
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
    return samples


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM ends the block as Ctrl-C does (KeyboardInterrupt), so clean-up runs."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def table(rows: list[Row]) -> str:
    """The results, one line per size."""
    header = (
        f"{'memory':>8} {'vCPU':>5} {'cold start':>11} {'duration':>10} {'billed':>8} "
        f"{'cost/invoke':>13} {'per 1M':>9} {'max used':>8}"
    )
    lines = [header]
    for row in rows:
        cold = row.cold
        cold_ms = f"{(cold.init_ms or 0) + cold.duration_ms:.1f} ms" if cold else "-"
        lines.append(
            f"{row.memory_mb:>5} MB {row.vcpus:>5.2f} {cold_ms:>11} {row.duration_ms:>7.1f} ms "
            f"{row.billed_ms:>5.0f} ms {row.cost_usd:>13.10f} ${row.cost_usd * 1e6:>8.3f} "
            f"{row.max_memory_mb:>5} MB"
        )
    return "\n".join(lines)


def summary(rows: list[Row], strategy: str, weight: float) -> list[str]:
    """The recommendation lines under the table."""
    from flare.observe.tuning import inflection, recommend

    best = recommend(rows, strategy, weight)
    flat = inflection(rows)
    return [
        f"duration stops improving (within 10% of the fastest) at {flat.memory_mb} MB",
        f"best for {strategy}: {best.memory_mb} MB "
        f"({best.duration_ms:.1f} ms, ${best.cost_usd * 1e6:.3f} per million invocations)",
    ]


def results(
    name: str, configuration: dict[str, Any], rows: list[Row], strategy: str, weight: float
) -> dict[str, Any]:
    """``--json``'s document: the inputs, each size's figures and the recommendations."""
    from flare.observe import pricing
    from flare.observe.tuning import STRATEGIES, inflection, recommend

    return {
        "function": name,
        "architecture": (configuration.get("Architectures") or ["x86_64"])[0],
        "prices": {"region": pricing.REGION, "asOf": pricing.PRICES_AS_OF, "source": pricing.PRICING_PAGE},
        "strategy": strategy,
        "balancedWeight": weight,
        "recommendation": recommend(rows, strategy, weight).memory_mb,
        "recommendations": {each: recommend(rows, each, weight).memory_mb for each in STRATEGIES},
        "inflectionMB": inflection(rows).memory_mb,
        "sizes": [row.as_json() for row in rows],
    }


def read_payload(payload: str | None, payload_file: Path | None) -> bytes:
    if payload is not None and payload_file is not None:
        raise click.UsageError("give --payload or --payload-file, not both")
    if payload_file is not None:
        return parse_payload(None, None, f"@{payload_file}")
    return parse_payload(None, None, payload)


@click.command("tune")
@click.argument("name")
@click.option("--payload", default=None, help="The event (JSON; @FILE reads a file). Default: {}.")
@click.option(
    "--payload-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Read the event from a file.",
)
@click.option(
    "--memory",
    "memory",
    default=None,
    metavar="MB,MB,...",
    help="Memory sizes (default: Power Tuning's, 128,256,512,1024,1536,3008).",
)
@click.option(
    "--invokes",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Warm invocations per size (plus one cold start).",
)
@click.option(
    "--strategy", type=click.Choice(["cost", "speed", "balanced"]), default="cost", show_default=True
)
@click.option(
    "--weight",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="balanced: 0 is speed, 1 cost.",
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the chart (PNG) here (needs flare[charts]).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw results as JSON.")
@click.option(
    "--cpus", type=click.IntRange(1, 1024), default=None, help="CPUs of Flare's host (default: this one's)."
)
@endpoint_option
def tune_command(
    name: str,
    payload: str | None,
    payload_file: Path | None,
    memory: str | None,
    invokes: int,
    strategy: str,
    weight: float,
    plot: Path | None,
    as_json: bool,
    cpus: int | None,
    endpoint_url: str | None,
) -> None:
    """Run NAME at several memory sizes and recommend one (AWS Lambda Power Tuning, locally)."""
    from flare.observe.tuning import DEFAULT_MEMORY, parse_sizes

    body = read_payload(payload, payload_file)
    try:
        sizes = parse_sizes(memory) if memory else list(DEFAULT_MEMORY)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--memory") from None
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    host_cpus = cpus or os.cpu_count() or 1
    configuration, rows = run(endpoint, name, sizes, body, invokes, host_cpus)
    if plot is not None:
        from flare.cli.tune_chart import draw

        draw(rows, name, plot)
    if as_json:
        click.echo(json.dumps(results(name, configuration, rows, strategy, weight), indent=2))
        return
    click.echo(table(rows))
    for line in summary(rows, strategy, weight):
        click.echo(line)


def run(
    endpoint: str, name: str, sizes: list[int], payload: bytes, invokes: int, host_cpus: int
) -> tuple[dict[str, Any], list[Row]]:
    """Measure ``name`` on its copies, deleted afterwards whatever happens: its configuration
    and a ``Row`` per size."""
    from flare.observe.tuning import summarize

    with reported_errors(endpoint), interruptible():
        copies = Copies(lambda_client(endpoint), name)
        try:
            samples = measure(endpoint, copies, sizes, payload, invokes, host_cpus)
        finally:
            left = copies.remove()
            if left:
                click.echo(f"could not delete the copies {', '.join(left)}", err=True)
    configuration = copies.configuration
    architecture = (configuration.get("Architectures") or ["x86_64"])[0]
    ephemeral = (configuration.get("EphemeralStorage") or {}).get("Size", 512)
    rows = [summarize(size, samples[size], host_cpus, architecture, ephemeral) for size in sizes]
    return configuration, rows
