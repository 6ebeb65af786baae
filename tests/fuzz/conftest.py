"""The fuzzer's server, the state it must not lose, and how many examples it runs.

``make test`` runs a fixed, small number of examples with a fixed seed (``derandomize``), so CI
is reproducible and quick; ``make fuzz`` sets ``FUZZ_EXAMPLES`` (and random seeds) for a long
run. The settings are applied per test, never as a global profile, so the rest of the suite's
hypothesis tests keep theirs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.conftest import FLARE, FlareServer, create_function, free_port, python_function, wait_ready

LONG_RUN = "FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def fuzz_settings(ci_examples: int) -> settings:
    """``ci_examples`` derandomized examples in ``make test``; ``FUZZ_EXAMPLES`` random ones in
    ``make fuzz``."""
    return settings(
        max_examples=EXAMPLES if LONG_RUN else ci_examples,
        derandomize=not LONG_RUN,
        database=None,
        deadline=None,
        print_blob=True,
        # no shrinking: a request that fails is reported as drawn (shrinking long bodies and
        # paths through a live server takes minutes)
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        report_multiple_bugs=True,
        suppress_health_check=list(HealthCheck),
    )


SEED_SOURCE = "def handler(event, context):\n    return {'kept': event}\n"


@dataclass
class Seeded:
    """What was stored before the fuzzer ran, to be found whole after it."""

    functions: dict[str, dict[str, Any]]
    layer_arn: str
    queue_url: str
    stream: str
    log_group: str


def seed(server: FlareServer) -> Seeded:
    lam = server.client()
    functions = {}
    for name in ("fuzz-kept-alpha-7c1e", "fuzz-kept-beta-9d4a"):
        functions[name] = create_function(lam, name, python_function(SEED_SOURCE), MemorySize=256)
    layer = lam.publish_layer_version(
        LayerName="fuzz-kept-layer-5b2f", Content={"ZipFile": python_function("X = 1\n")}
    )
    queue = server.client("sqs").create_queue(QueueName="fuzz-kept-queue-3a8d")
    server.client("sqs").send_message(QueueUrl=queue["QueueUrl"], MessageBody="kept")
    server.client("kinesis").create_stream(StreamName="fuzz-kept-stream-2e6c", ShardCount=1)
    server.client("logs").create_log_group(logGroupName="fuzz-kept-group-8f0b")
    return Seeded(
        functions,
        layer["LayerVersionArn"],
        queue["QueueUrl"],
        "fuzz-kept-stream-2e6c",
        "fuzz-kept-group-8f0b",
    )


@dataclass(repr=False)
class Fuzzed:
    """The server under fire and what it stored first."""

    server: FlareServer
    seeded: Seeded

    def __repr__(self) -> str:
        return f"Fuzzed({self.server.url})"


def launch_logged(root: Path, log: Path) -> FlareServer:
    """``flare serve`` on a data dir under ``root``, its output going to ``log``: under fire it
    logs every error it answers, more than an undrained pipe holds (a full pipe would block it)."""
    port = free_port()
    data_dir = root / "data"
    args = [str(FLARE), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    with log.open("ab") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_ready(process, url)
    return FlareServer(url, data_dir, process, args)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """A ``flare serve`` with a few stored resources, for one fuzz module."""
    root = tmp_path_factory.mktemp("fuzz")
    logs = tmp_path_factory.mktemp("fuzz-log")
    server = launch_logged(root, logs / "serve.log")
    try:
        yield Fuzzed(server, seed(server))
    finally:
        server.stop()
