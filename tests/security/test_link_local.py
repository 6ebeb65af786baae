"""A handler cannot reach link-local or instance-metadata addresses (169.254.0.0/16, fe80::/10,
fd00:ec2::254), in the default (host) network mode too, while Flare's own endpoint stays
reachable and the host's other processes are untouched.

Nothing is sent off the machine: the test puts a random 169.254.x.y and fd00:ec2::254 on ``lo``
with a listener on each, so that without the block a handler *would* reach them (the proof that
the test can fail), and every refusal is an immediate ECONNREFUSED / EPERM, never a timeout.
Needs root and ``nft``; skips otherwise."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flare.sandbox.link_local_block import SBIN_PATH, find_nft, table_name
from tests.conftest import FlareServer, create_function, launch, python_function

IP = shutil.which("ip", path=f"{os.environ.get('PATH', '')}:{SBIN_PATH}")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or find_nft() is None or IP is None,
    reason="needs root, nft (Debian nftables) and ip (iproute2)",
)
METADATA_V6 = "fd00:ec2::254"

PROBE = """
import errno, socket
def attempt(family, kind, address):
    sock = socket.socket(family, kind)
    sock.settimeout(2)
    try:
        if kind == socket.SOCK_STREAM:
            sock.connect(address)
        else:
            sock.sendto(b"x", address)
        return "reached" if kind == socket.SOCK_STREAM else "sent"
    except socket.timeout:
        return "timeout"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error))
    finally:
        sock.close()
def handler(event, context):
    v4, v6, port, flare = event["v4"], event["v6"], event["port"], event["flare_port"]
    return {
        "tcp4": attempt(socket.AF_INET, socket.SOCK_STREAM, (v4, port)),
        "tcp6": attempt(socket.AF_INET6, socket.SOCK_STREAM, (v6, port)),
        "tcp4_mapped": attempt(socket.AF_INET6, socket.SOCK_STREAM, ("::ffff:" + v4, port)),
        "udp4": attempt(socket.AF_INET, socket.SOCK_DGRAM, (v4, port)),
        "udp6": attempt(socket.AF_INET6, socket.SOCK_DGRAM, (v6, port)),
        "flare": attempt(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", flare)),
    }
"""


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    assert IP is not None
    return subprocess.run([IP, *args], capture_output=True, text=True, check=False)


@pytest.fixture
def metadata_on_lo() -> Iterator[tuple[str, str, int, list[socket.socket]]]:
    """A random 169.254.x.y and fd00:ec2::254 on ``lo``, a TCP listener on one port of both;
    removed afterwards (an address that was there already is left alone)."""
    v4 = f"169.254.{random.randint(1, 254)}.{random.randint(1, 254)}"
    added = []
    for address in (f"{v4}/32", f"{METADATA_V6}/128"):
        family = "-6" if ":" in address else "-4"
        done = _ip(family, "addr", "add", address, "dev", "lo", *(["nodad"] if family == "-6" else []))
        if done.returncode == 0:
            added.append((family, address))
        elif "File exists" not in done.stderr:
            pytest.skip(f"cannot add {address} to lo: {done.stderr.strip()}")
    listeners = []
    try:
        first = socket.create_server((v4, 0))
        port = first.getsockname()[1]
        second = socket.create_server((METADATA_V6, port), family=socket.AF_INET6)
        listeners = [first, second]
        for listener in listeners:
            listener.setblocking(False)
        yield v4, METADATA_V6, port, listeners
    finally:
        for listener in listeners:
            listener.close()
        for family, address in added:
            _ip(family, "addr", "del", address, "dev", "lo")


def _accepted(listeners: list[socket.socket]) -> int:
    count = 0
    for listener in listeners:
        try:
            while True:
                listener.accept()[0].close()
                count += 1
        except BlockingIOError:
            pass
    return count


def _snapstart_version(lam: Any, name: str) -> str:
    create_function(
        lam, name, python_function(PROBE), runtime="python3.12", SnapStart={"ApplyOn": "PublishedVersions"}
    )
    version: str = lam.publish_version(FunctionName=name)["Version"]
    deadline = time.monotonic() + 60
    while lam.get_function_configuration(FunctionName=name, Qualifier=version)["State"] == "Pending":
        assert time.monotonic() < deadline, "the snapshot was never made"
        time.sleep(0.05)
    return f"{name}:{version}"


@pytest.mark.parametrize("kind", ["on-demand", "snapstart-restore"])
def test_handler_cannot_reach_link_local_addresses_but_reaches_flare(
    flare: FlareServer, lam: Any, metadata_on_lo: tuple[str, str, int, list[socket.socket]], kind: str
) -> None:
    v4, v6, port, listeners = metadata_on_lo
    if kind == "on-demand":
        create_function(lam, "metadata-probe", python_function(PROBE), Timeout=30)
        name = "metadata-probe"
    else:
        name = _snapstart_version(lam, "metadata-probe-restored")
    event = {"v4": v4, "v6": v6, "port": port, "flare_port": int(flare.url.rsplit(":", 1)[1])}
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    result = json.loads(response["Payload"].read())
    assert result == {
        "tcp4": "ECONNREFUSED",
        "tcp6": "ECONNREFUSED",
        "tcp4_mapped": "ECONNREFUSED",
        "udp4": "EPERM",
        "udp6": "EPERM",
        "flare": "reached",
    }
    assert _accepted(listeners) == 0
    # the host's own processes (this one) still reach them
    socket.create_connection((v4, port), timeout=2).close()
    socket.create_connection((v6, port), timeout=2).close()
    assert _accepted(listeners) == 2


def _tables() -> list[str]:
    nft = find_nft()
    assert nft is not None
    listed = subprocess.run([nft, "-j", "list", "tables"], capture_output=True, text=True, check=True)
    items = json.loads(listed.stdout)["nftables"]
    return [item["table"]["name"] for item in items if "table" in item and item["table"]["family"] == "inet"]


def test_rules_are_removed_at_stop_and_replaced_after_a_kill(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        killed = table_name(server.data_dir, server.process.pid)
        assert killed in _tables()
        server.stop(signal.SIGKILL)
        assert killed in _tables()  # nothing could remove it
        server.restart()
        own = table_name(server.data_dir, server.process.pid)
        prefix = own.rsplit("_", 1)[0] + "_"
        assert [name for name in _tables() if name.startswith(prefix)] == [own]
    finally:
        server.stop()
    assert not [name for name in _tables() if name.startswith(prefix)]
