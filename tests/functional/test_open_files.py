"""``flare serve`` raises its own open-files limit (a few descriptors per live environment) and
gives its zygotes, and so every environment, the limit it was started with
(``sandbox/open_files.py``)."""

from __future__ import annotations

import json
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    FLARE,
    FlareServer,
    children_of,
    create_function,
    free_port,
    python_function,
    wait_ready,
)

STARTED_WITH = 1024

REPORTS_LIMIT = """
import resource
def handler(event, context):
    return list(resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def open_files_limit(pid: int) -> tuple[int, int]:
    line = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines() if "open files" in line)
    soft, hard = line.split()[3:5]
    return int(soft), int(hard)


@pytest.fixture
def low_limit_server(tmp_path: Path) -> Iterator[FlareServer]:
    """``flare serve`` started with a soft open-files limit of ``STARTED_WITH``."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard <= STARTED_WITH:
        pytest.skip(f"this host's hard open-files limit is {hard}")
    port = free_port()
    args = [str(FLARE), "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (STARTED_WITH, hard)),
    )
    server = FlareServer(f"http://127.0.0.1:{port}", tmp_path / "data", process, args)
    try:
        wait_ready(process, server.url)
        yield server
    finally:
        if process.poll() is None:
            server.stop()


def test_the_engine_raises_its_limit_and_environments_keep_the_one_it_was_given(
    low_limit_server: FlareServer,
) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    engine = low_limit_server.process.pid
    raised_soft, raised_hard = open_files_limit(engine)
    assert raised_soft == raised_hard >= hard, "the engine takes all it may"

    lam: Any = low_limit_server.client()
    create_function(lam, "limit", python_function(REPORTS_LIMIT))
    seen = json.loads(lam.invoke(FunctionName="limit")["Payload"].read())
    assert seen == [STARTED_WITH, hard], "a function sees the limit the engine was started with"
    zygotes = [
        pid for pid in children_of(engine) if Path(f"/proc/{pid}/stat").read_text().split()[3] == str(engine)
    ]
    assert zygotes
    assert {open_files_limit(pid) for pid in zygotes} == {(STARTED_WITH, hard)}
