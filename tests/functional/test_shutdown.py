"""SIGTERM to an engine holding provisioned environments: every environment gets its SHUTDOWN
(SIGTERM to its runtime, all at once, not one after another), the engine exits cleanly, and
nothing of its own is left: no process, cgroup, loop device or mount. Their /tmp images stay
on disk, unmounted, until the next start deletes them. Needs root and cgroups (the sandbox);
skips otherwise."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from flare.sandbox.cgroups import Cgroups, engine_owner
from flare.sandbox.tmp_image import loops_backed_by
from tests.conftest import children_of, create_function, launch, python_function
from tests.signing import signed_urlopen

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or Cgroups.detect() is None, reason="the sandbox needs root and cgroups"
)

ENVIRONMENTS = 30
SHUTDOWN_S = 1.0
SLOW_TO_LEAVE = f"""
import signal, sys, time, uuid
ME = uuid.uuid4().hex
def on_term(signum, frame):
    print("SIGTERM received by", ME, flush=True)
    time.sleep({SHUTDOWN_S})  # its own clean-up: 30 of them one after another would take 30 s
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
def handler(event, context):
    return ME
"""


def messages(url: str, name: str) -> list[str]:
    with signed_urlopen(f"{url}/flare/v1/functions/{name}/logs") as reply:
        return [event["message"] for event in json.load(reply)["events"]]


def provision(lam: Any, name: str, count: int) -> None:
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=count
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        if config["Status"] == "READY":
            return
        assert config["Status"] != "FAILED", config
        time.sleep(0.2)
    raise AssertionError("provisioned concurrency not READY")


def left_of(pids: list[int], owner: str, data_dir: Path) -> list[str]:
    running = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                running.append(f"process {pid}")
        except OSError:
            continue
    root = Path("/sys/fs/cgroup")
    cgroups = [f"cgroup {path}" for path in [*root.glob(f"*/flare/{owner}"), *root.glob(f"flare/{owner}")]]
    loops = [f"loop {device}" for device, _ in loops_backed_by(data_dir)]
    mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(data_dir) in line]
    return running + cgroups + loops + mounts


def test_sigterm_shuts_every_environment_down_at_once_and_leaves_nothing(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        lam = server.client()
        create_function(lam, "leaving", python_function(SLOW_TO_LEAVE), MemorySize=128)
        provision(lam, "leaving", ENVIRONMENTS)
        owner = engine_owner(server.process.pid)
        pids = children_of(server.process.pid)
        assert len(pids) > 2 * ENVIRONMENTS, "each environment's runtime and init, and the zygote"
        started = time.monotonic()
        assert server.stop() == 0
        took = time.monotonic() - started
    finally:
        server.stop()
    deadline = time.monotonic() + 5
    while left_of(pids, owner, server.data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left_of(pids, owner, server.data_dir) == []
    assert took < ENVIRONMENTS * SHUTDOWN_S / 3, f"{took:.1f} s: the environments left one after another"
    # the /tmp images, unmounted, are left for the next start to delete (not the engine's exit)
    images = server.data_dir / "scratch" / "images"
    leftover = set(images.iterdir())
    assert leftover, "the spares and the scratches released last"
    server.restart()  # what the environments logged while leaving was stored: read it back
    try:
        said = [line for line in messages(server.url, "leaving") if line.startswith("SIGTERM received by")]
        deadline = time.monotonic() + 30
        while leftover & set(images.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not leftover & set(images.iterdir()), "the next start deletes what the last one left"
    finally:
        server.stop()
    assert len(set(said)) == ENVIRONMENTS, said
