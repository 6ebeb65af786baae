"""Shared fixtures: a real ``flare serve`` process and boto3 clients pointed at it."""

from __future__ import annotations

import http.client
import io
import os
import random
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "functions"
ROLE = "arn:aws:iam::000000000000:role/flare-test"
FLARE = Path(sys.prefix) / "bin" / "flare"


def free_port() -> int:
    """A port free on 127.0.0.1 now, below the kernel's ephemeral range: a port ``bind(0)``
    picks is one of that range, which a client's connection (boto3's to Flare) may take as its
    own local port before the server given it binds it. 16 ports under the range's start are
    kept free for servers that count up (debug ports)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(100):
        port = random.randrange(max(1024, low - 12000), low - 16)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise AssertionError("no free port below the ephemeral range")


def zip_files(files: Mapping[str, str | bytes], modes: Mapping[str, int] | None = None) -> bytes:
    """A zip of ``{path: content}``; ``modes`` sets Unix permissions (e.g. 0o755 for bootstrap)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in sorted(files.items()):
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = ((modes or {}).get(path, 0o644) | 0o100000) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def zip_dir(path: Path) -> bytes:
    files: dict[str, str | bytes] = {}
    modes: dict[str, int] = {}
    for file in sorted(path.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts:
            name = str(file.relative_to(path))
            files[name] = file.read_bytes()
            modes[name] = file.stat().st_mode & 0o777
    return zip_files(files, modes)


@dataclass
class FlareServer:
    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    args: list[str]

    def client(
        self, service: str = "lambda", read_timeout: int = 60, key: str = "test", region: str = "us-east-1"
    ) -> Any:
        """A boto3 client of ``service``; ``key`` (a 12-digit access key id is that account) and
        ``region`` pick the account and region it acts in."""
        make: Callable[..., Any] = boto3.client  # the service is a name, not a literal
        return make(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=read_timeout),
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def restart(self) -> None:
        self.stop()
        self.process = start_process(self.args)
        wait_ready(self.process, self.url)


def start_process(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_ready(process: subprocess.Popen[str], url: str, timeout: float = 10) -> None:
    """Until the server answers an HTTP request: its port listens before the engine is built,
    so an open port alone does not mean the engine's start-up (cgroups, zygotes) is done."""
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"flare serve exited: {process.stdout.read() if process.stdout else ''}")
        connection = http.client.HTTPConnection(host, int(port), timeout=1.0)
        try:
            connection.request("GET", "/2015-03-31/functions/")
            connection.getresponse().read()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.02)
        finally:
            connection.close()
    raise RuntimeError("flare serve did not start")


def launch(tmp_path: Path, *extra: str) -> FlareServer:
    port = free_port()
    data_dir = tmp_path / "data"
    args = [str(FLARE), "serve", "--port", str(port), "--data-dir", str(data_dir), *extra]
    process = start_process(args)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, url)
    except BaseException:
        process.kill()  # a server that did not start in time is not left running
        process.wait(10)
        raise
    return FlareServer(url, data_dir, process, args)


@pytest.fixture(scope="module")
def flare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    """One server per test module (start-up is ~0.3 s; environments are per function)."""
    server = launch(tmp_path_factory.mktemp("flare"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    """A server whose clock the test moves ahead (``--test-clock``)."""
    server = launch(tmp_path_factory.mktemp("flare-durable-clock"), "--test-clock")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lam(flare: FlareServer) -> Any:
    return flare.client()


def create_function(
    client: Any,
    name: str,
    code: bytes,
    handler: str = "app.handler",
    runtime: str = "python3.11",
    **config: Any,
) -> dict[str, Any]:
    # 1024 MB buys ~0.58 vCPU: enough that a test about behaviour is not slowed down by the
    # CPU share of 128 MB (0.07 vCPU). Tests about memory or CPU pass MemorySize themselves.
    config.setdefault("MemorySize", 1024)
    config.setdefault("Role", ROLE)  # a test about roles passes its own
    response: dict[str, Any] = client.create_function(
        FunctionName=name, Runtime=runtime, Handler=handler, Code={"ZipFile": code}, **config
    )
    return response


def python_function(source: str) -> bytes:
    return zip_files({"app.py": source})


def children_of(pid: int) -> list[int]:
    """Every descendant pid of ``pid`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                parents.setdefault(int(fields[1]), []).append(int(entry))
            except OSError:
                continue
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real redis-server (tests/redis_server.py) for the module's tests, stopped after them."""
    from tests.redis_server import RedisServer

    server = RedisServer.start(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def link(redis_server: Any) -> Iterator[Any]:
    """Node ``node-a``'s ``ClusterLink`` to the module's Redis, emptied first."""
    from flare.cluster.link import ClusterLink

    made = ClusterLink(redis_server.url, "node-a")
    made.sync.flushdb()
    yield made
    made.sync.close()
