"""Extensions: what an external extension costs a function's cold starts and warm invokes.

One sandboxed ``flare serve``; two functions with the main bench's hello-world handler at
1769 MB (1 vCPU: the figures show the platform's work, not the CPU share's throttling): one
plain, one with a layer holding a Python extension that registers for ``INVOKE``, subscribes
to the Telemetry API's ``platform`` stream and calls next as soon as it gets each event (the
shape of an observability extension). Cold starts are interleaved (plain, extension, ...);
then each function's warm latency, sequential invokes on one connection (an invoke waits for
the previous one's post-runtime phase: the extension's next).
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bench import harness, measure
from bench.layers import interleaved_cold_starts
from bench.measure import Endpoint, LatencyStats

PLAIN = "bench-no-extension"
EXTENDED = "bench-one-extension"
MEMORY_MB = 1769

EXTENSION = r"""#!/usr/bin/env python3
import http.server, json, os, threading, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]

def call(method, path, body=None, headers=None):
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    return urllib.request.urlopen(request)

class Listener(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass

NAME = {"Lambda-Extension-Name": "bench"}
reply = call("POST", "/2020-01-01/extension/register", b'{"events": ["INVOKE"]}', NAME)
me = {"Lambda-Extension-Identifier": reply.headers["Lambda-Extension-Identifier"]}
server = http.server.HTTPServer(("sandbox.localdomain", 0), Listener)
threading.Thread(target=server.serve_forever, daemon=True).start()
listener = "http://sandbox.localdomain:%d" % server.server_port
subscription = {"schemaVersion": "2022-12-13", "types": ["platform"],
                "destination": {"protocol": "HTTP", "URI": listener}}
call("PUT", "/2022-07-01/telemetry", json.dumps(subscription).encode(), me)
while True:
    call("GET", "/2020-01-01/extension/event/next", headers=me).read()
"""


@dataclass
class ExtensionsResult:
    plain_cold: LatencyStats | None = None
    extended_cold: LatencyStats | None = None
    plain_warm: LatencyStats | None = None
    extended_warm: LatencyStats | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def extension_layer() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("extensions/bench", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o100755) << 16
        archive.writestr(info, EXTENSION)
    return buffer.getvalue()


def _deploy(client: Any) -> None:
    harness.deploy(client, PLAIN, memory_mb=MEMORY_MB)
    harness.deploy(client, EXTENDED, memory_mb=MEMORY_MB)
    layer = client.publish_layer_version(LayerName="bench-extension", Content={"ZipFile": extension_layer()})
    client.update_function_configuration(FunctionName=EXTENDED, Layers=[layer["LayerVersionArn"]])
    harness.bump_revision(client, EXTENDED, -1)


def run(cold_iterations: int, warm_iterations: int, progress: Callable[[str], None]) -> ExtensionsResult:
    result = ExtensionsResult()
    progress(f"extensions: {cold_iterations} cold starts and {warm_iterations} warm invokes, each function")
    with tempfile.TemporaryDirectory(prefix="flare-bench-extensions-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            with harness.flare_server(Path(tmp) / "data", log) as server:
                client = harness.lambda_client(server.url)
                _deploy(client)
                endpoints = [Endpoint(server.host, server.port, name) for name in (PLAIN, EXTENDED)]
                for endpoint in endpoints:
                    measure.time_one_invoke(endpoint)
                result.plain_cold, result.extended_cold = interleaved_cold_starts(
                    endpoints, cold_iterations, lambda name, i: harness.bump_revision(client, name, i)
                )
                warmup = max(10, warm_iterations // 10)
                result.plain_warm = measure.warm_latency(endpoints[0], warm_iterations, warmup)
                result.extended_warm = measure.warm_latency(endpoints[1], warm_iterations, warmup)
        except (harness.ServerError, measure.InvokeError, OSError, BotoCoreError, ClientError) as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            result.error = f"{type(exc).__name__}: {exc}\n{tail}"
    return result


def _cells(stats: LatencyStats | None) -> str:
    return f"{stats.p50_ms:.3f} | {stats.p99_ms:.3f}" if stats is not None else "- | -"


def render(result: ExtensionsResult) -> str:
    """The markdown sub-section."""
    lines = [
        f"### Extensions: one external extension (INVOKE + a Telemetry subscription), {MEMORY_MB} MB",
        "",
        "| function | cold start p50 (ms) | cold start p99 (ms) | warm p50 (ms) | warm p99 (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| no extension | {_cells(result.plain_cold)} | {_cells(result.plain_warm)} |",
        f"| one extension | {_cells(result.extended_cold)} | {_cells(result.extended_warm)} |",
        "",
        "- the extension: Python (stdlib), registers for INVOKE, subscribes to `platform` telemetry "
        "on its own listener and calls next at once; cold starts interleaved, warm invokes sequential "
        "on one connection",
    ]
    if result.plain_cold is not None and result.plain_warm is not None:
        counts = f"n={result.plain_cold.count} cold starts, n={result.plain_warm.count} warm invokes"
        lines.append(f"- {counts}, per function")
    if result.error:
        lines.append(f"- not measured: {result.error.splitlines()[0]}")
        lines += ["", "```", *result.error.splitlines()[1:], "```"]
    return "\n".join(lines) + "\n"
