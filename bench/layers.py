"""Layers: what a function's ``/opt`` costs its cold starts.

One ``flare serve`` at a time (sandboxed, then ``--no-sandbox``); two functions with the
main bench's hello-world handler (128 MB): one without layers, one listing 2 layers (each a
Python package of 20 modules under ``python/`` and a file both hold, so their ``/opt`` is a
merged tree; the handler imports nothing from them). Cold starts are measured interleaved
(no layers, 2 layers, no layers, ...), each the invoke right after UpdateFunctionConfiguration
changed an environment variable, so both see the same machine at the same moments.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bench import harness, measure
from bench.measure import Endpoint, LatencyStats

PLAIN = "bench-no-layers"
LAYERED = "bench-two-layers"
MODULES_PER_LAYER = 20


@dataclass
class LayersRun:
    """One server's cold starts without and with layers."""

    label: str
    plain: LatencyStats | None = None
    layered: LatencyStats | None = None
    error: str | None = None


@dataclass
class LayersResult:
    runs: list[LayersRun] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(run.error for run in self.runs)


def layer_zip(index: int) -> bytes:
    """A layer holding package ``pkg<index>`` of small modules and a file every layer holds."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"python/pkg{index}/__init__.py", "")
        for module in range(MODULES_PER_LAYER):
            archive.writestr(f"python/pkg{index}/m{module}.py", f"VALUE = {module}\n")
        archive.writestr("shared.txt", f"layer {index}\n")
    return buffer.getvalue()


def _deploy_layered(client: Any, name: str) -> None:
    arns = [
        client.publish_layer_version(LayerName=f"bench-layer-{index}", Content={"ZipFile": layer_zip(index)})[
            "LayerVersionArn"
        ]
        for index in (1, 2)
    ]
    harness.deploy(client, name)
    client.update_function_configuration(FunctionName=name, Layers=arns)
    harness.bump_revision(client, name, -1)


def interleaved_cold_starts(
    endpoints: list[Endpoint], iterations: int, force_cold: Callable[[str, int], None]
) -> list[LatencyStats]:
    """``iterations`` cold starts of each endpoint's function, taken in turn."""
    samples: list[list[float]] = [[] for _ in endpoints]
    for i in range(iterations):
        for endpoint, taken in zip(endpoints, samples, strict=True):
            force_cold(endpoint.function, i)
            taken.append(measure.time_one_invoke(endpoint))
    return [LatencyStats.from_seconds(taken) for taken in samples]


def layers_run(label: str, extra_args: tuple[str, ...], iterations: int) -> LayersRun:
    run = LayersRun(label)
    with tempfile.TemporaryDirectory(prefix="flare-bench-layers-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            with harness.flare_server(Path(tmp) / "data", log, extra_args=extra_args) as server:
                client = harness.lambda_client(server.url)
                harness.deploy(client, PLAIN)
                _deploy_layered(client, LAYERED)
                endpoints = [Endpoint(server.host, server.port, name) for name in (PLAIN, LAYERED)]
                for endpoint in endpoints:
                    measure.time_one_invoke(endpoint)  # the zygote is warm for both
                run.plain, run.layered = interleaved_cold_starts(
                    endpoints, iterations, lambda name, i: harness.bump_revision(client, name, i)
                )
        except (harness.ServerError, measure.InvokeError, OSError, BotoCoreError, ClientError) as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            run.error = f"{type(exc).__name__}: {exc}\n{tail}"
    return run


def run(iterations: int, progress: Callable[[str], None]) -> LayersResult:
    result = LayersResult()
    for label, extra in (("sandbox on", ()), ("--no-sandbox", ("--no-sandbox",))):
        progress(f"layers: {label}: {iterations} cold starts each, without and with 2 layers")
        result.runs.append(layers_run(label, extra, iterations))
    return result


def _row(run: LayersRun) -> str:
    if run.plain is None or run.layered is None:
        return f"| {run.label} | - | - | - | - | - |"
    plain, layered = run.plain, run.layered
    return (
        f"| {run.label} | {plain.p50_ms:.2f} | {layered.p50_ms:.2f} | {layered.p50_ms - plain.p50_ms:+.2f} "
        f"| {plain.p99_ms:.2f} | {layered.p99_ms:.2f} |"
    )


def render(result: LayersResult) -> str:
    """The markdown sub-section: one row per server, then the notes."""
    lines = [
        "### Layers: cold start without and with 2 layers (same server, interleaved)",
        "",
        "| server | no layers p50 (ms) | 2 layers p50 (ms) | difference p50 | no layers p99 (ms) "
        "| 2 layers p99 (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *(_row(run) for run in result.runs),
        "",
        f"- hello-world at 128 MB; each layer: a package of {MODULES_PER_LAYER} modules under `python/` "
        "and a file both layers hold (so `/opt` is a merged tree); the handler imports nothing from them",
    ]
    counts = [run.plain.count for run in result.runs if run.plain is not None]
    if counts:
        lines.append(f"- n={counts[0]} cold starts per function and server")
    for failed in (run for run in result.runs if run.error):
        assert failed.error is not None
        lines.append(f"- {failed.label}: not measured: {failed.error.splitlines()[0]}")
        lines += ["", "```", *failed.error.splitlines()[1:], "```"]
    return "\n".join(lines) + "\n"
