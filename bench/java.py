"""Java beside Python: cold and warm latency of the same hello-world through the public API.

One ``flare serve`` (sandboxed); functions at ``MEMORY_MB`` answering ``{"ok": true}``:
Python's (``python3.11``, the main bench's) and Java's (``java17`` on the host's JDK 17, a static
``example.Hello::handle`` compiled here with the host's ``javac``, twice). Cold starts are
interleaved (Python, Java, Java later, ...), each the invoke right after
UpdateFunctionConfiguration changed an environment variable: the Java cold start then waits for
the spare that update started (``placement/spares.py``), still booting, so it pays most of the
JVM's start, as a cold start without a spare would; "Java later" waits ``SPARE_BOOT_S`` first, so
its spare has booted. Then sequential warm invokes of Python's and Java's.
"""

from __future__ import annotations

import io
import shutil
import subprocess
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
JAVA = "bench-hello-java"
JAVA_LATER = "bench-hello-java-later"
MEMORY_MB = 128
SPARE_BOOT_S = 1.5
JAVA_SOURCE = """
package example;

import java.util.Map;

public class Hello {
    public static Map<String, Object> handle() {
        return Map.of("ok", true);
    }
}
"""


@dataclass
class JavaResult:
    """Cold and warm latency of each runtime's hello-world, or why they were not measured."""

    python_cold: LatencyStats | None = None
    java_cold: LatencyStats | None = None
    java_later_cold: LatencyStats | None = None
    python_warm: LatencyStats | None = None
    java_warm: LatencyStats | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def java_zip(tmp: Path) -> bytes:
    """The hello-world's classes, compiled with the host's ``javac`` (OSError without one)."""
    javac = shutil.which("javac")
    if javac is None:
        raise OSError("no javac on this host")
    source = tmp / "src" / "example" / "Hello.java"
    source.parent.mkdir(parents=True)
    source.write_text(JAVA_SOURCE)
    subprocess.run([javac, "--release", "17", "-d", str(tmp / "out"), str(source)], check=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(tmp / "out" / "example" / "Hello.class", "example/Hello.class")
    return buffer.getvalue()


def _deploy_java(client: object, name: str, code: bytes) -> None:
    client.create_function(  # type: ignore[attr-defined]
        FunctionName=name,
        Runtime="java17",
        Role=harness.ROLE,
        Handler="example.Hello::handle",
        Code={"ZipFile": code},
        MemorySize=MEMORY_MB,
        Timeout=30,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name)  # type: ignore[attr-defined]


def run(
    cold_iterations: int, warm_iterations: int, warmup: int, progress: Callable[[str], None]
) -> JavaResult:
    result = JavaResult()
    with tempfile.TemporaryDirectory(prefix="flare-bench-java-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            code = java_zip(Path(tmp))
            with harness.flare_server(Path(tmp) / "data", log) as server:
                client = harness.lambda_client(server.url)
                harness.deploy(client, PYTHON)
                _deploy_java(client, JAVA, code)
                _deploy_java(client, JAVA_LATER, code)
                endpoints = [Endpoint(server.host, server.port, name) for name in (PYTHON, JAVA, JAVA_LATER)]
                python, java, _ = endpoints
                for endpoint in endpoints:
                    measure.time_one_invoke(endpoint)  # the zygote is warm for all
                progress(
                    f"java: {cold_iterations} cold starts each of Python, Java and Java later, interleaved"
                )

                def force_cold(name: str, i: int) -> None:
                    harness.bump_revision(client, name, i)
                    if name == JAVA_LATER:
                        time.sleep(SPARE_BOOT_S)

                result.python_cold, result.java_cold, result.java_later_cold = interleaved_cold_starts(
                    endpoints, cold_iterations, force_cold
                )
                progress(f"java: warm latency ({warm_iterations} sequential invokes each)")
                result.python_warm = measure.warm_latency(python, warm_iterations, warmup)
                result.java_warm = measure.warm_latency(java, warm_iterations, warmup)
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


def render(result: JavaResult) -> str:
    """The markdown sub-section: cold and warm rows of each runtime, then the notes."""
    lines = [
        f"### Java beside Python: hello-world at {MEMORY_MB} MB, same server",
        "",
        "| invoke | n | p50 (ms) | p99 (ms) | max (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
        _row("python3.11 cold", result.python_cold),
        _row("java17 cold, at once after the update (its spare still booting)", result.java_cold),
        _row(f"java17 cold, {SPARE_BOOT_S} s after the update (its spare booted)", result.java_later_cold),
        _row("python3.11 warm", result.python_warm),
        _row("java17 warm", result.java_warm),
        "",
        "- cold start = the invoke right after UpdateFunctionConfiguration changed env var `BUMP`; "
        "Python and Java taken in turn; a Java cold start takes the spare the update started, "
        f"still booting right after the update, booted {SPARE_BOOT_S} s after it",
    ]
    if result.error:
        lines.append(f"- not measured: {result.error.splitlines()[0]}")
        lines += ["", "```", *result.error.splitlines()[1:], "```"]
    return "\n".join(lines) + "\n"
