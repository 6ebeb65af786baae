"""Node.js beside Python: cold and warm latency of the same hello-world through the public API.

One ``flare serve`` (sandboxed); functions at 128 MB answering ``{"ok": true}``: Python's
(``python3.11``, the main bench's) and Node's (``nodejs20.x``, an async CommonJS handler, twice).
Cold starts are interleaved (Python, Node, Node later, Python, ...), each the invoke right after
UpdateFunctionConfiguration changed an environment variable, except "Node later": 0.5 s after it,
when the spare that the update started (``placement/spares.py``) has booted. Then sequential warm
invokes of Python's and Node's.
"""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from bench import harness, measure
from bench.layers import interleaved_cold_starts
from bench.measure import Endpoint, LatencyStats

PYTHON = "bench-hello-python"
NODE = "bench-hello-node"
NODE_LATER = "bench-hello-node-later"
SPARE_BOOT_S = 0.5
NODE_SOURCE = "exports.handler = async () => ({ ok: true });\n"


@dataclass
class NodeResult:
    """Cold and warm latency of each runtime's hello-world, or why they were not measured."""

    python_cold: LatencyStats | None = None
    node_cold: LatencyStats | None = None
    node_later_cold: LatencyStats | None = None
    python_warm: LatencyStats | None = None
    node_warm: LatencyStats | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def node_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.js", NODE_SOURCE)
    return buffer.getvalue()


def _deploy_node(client: object, name: str) -> None:
    client.create_function(  # type: ignore[attr-defined]
        FunctionName=name,
        Runtime="nodejs20.x",
        Role=harness.ROLE,
        Handler="index.handler",
        Code={"ZipFile": node_zip()},
        MemorySize=128,
        Timeout=30,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name)  # type: ignore[attr-defined]


def run(
    cold_iterations: int, warm_iterations: int, warmup: int, progress: Callable[[str], None]
) -> NodeResult:
    result = NodeResult()
    with tempfile.TemporaryDirectory(prefix="flare-bench-node-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            with harness.flare_server(Path(tmp) / "data", log) as server:
                client = harness.lambda_client(server.url)
                harness.deploy(client, PYTHON)
                _deploy_node(client, NODE)
                _deploy_node(client, NODE_LATER)
                endpoints = [Endpoint(server.host, server.port, name) for name in (PYTHON, NODE, NODE_LATER)]
                python, node, _ = endpoints
                for endpoint in endpoints:
                    measure.time_one_invoke(endpoint)  # the zygote is warm for all
                progress(
                    f"node: {cold_iterations} cold starts each of Python, Node and Node later, interleaved"
                )

                def force_cold(name: str, i: int) -> None:
                    harness.bump_revision(client, name, i)
                    if name == NODE_LATER:
                        time.sleep(SPARE_BOOT_S)

                result.python_cold, result.node_cold, result.node_later_cold = interleaved_cold_starts(
                    endpoints, cold_iterations, force_cold
                )
                progress(f"node: warm latency ({warm_iterations} sequential invokes each)")
                result.python_warm = measure.warm_latency(python, warm_iterations, warmup)
                result.node_warm = measure.warm_latency(node, warm_iterations, warmup)
        except (harness.ServerError, measure.InvokeError, OSError, BotoCoreError, ClientError) as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            result.error = f"{type(exc).__name__}: {exc}\n{tail}"
    return result


def _row(label: str, stats: LatencyStats | None) -> str:
    if stats is None:
        return f"| {label} | - | - | - | - |"
    return f"| {label} | {stats.count} | {stats.p50_ms:.2f} | {stats.p99_ms:.2f} | {stats.max_ms:.2f} |"


def render(result: NodeResult) -> str:
    """The markdown sub-section: cold and warm rows of each runtime, then the notes."""
    lines = [
        "### Node.js beside Python: hello-world at 128 MB, same server",
        "",
        "| invoke | n | p50 (ms) | p99 (ms) | max (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
        _row("python3.11 cold", result.python_cold),
        _row("nodejs20.x cold", result.node_cold),
        _row(f"nodejs20.x cold, {SPARE_BOOT_S} s after the update", result.node_later_cold),
        _row("python3.11 warm", result.python_warm),
        _row("nodejs20.x warm", result.node_warm),
        "",
        "- cold start = the invoke right after UpdateFunctionConfiguration changed env var `BUMP`; "
        "Python and Node taken in turn; a Node cold start takes the spare the update started, "
        f"still booting right after the update, booted {SPARE_BOOT_S} s after it",
    ]
    if result.error:
        lines.append(f"- not measured: {result.error.splitlines()[0]}")
        lines += ["", "```", *result.error.splitlines()[1:], "```"]
    return "\n".join(lines) + "\n"
