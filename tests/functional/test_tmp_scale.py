"""/tmp at scale, through boto3: many environments at once each get an empty, private /tmp of
exactly their EphemeralStorage (clones of one template image per size), and a killed engine
leaves none of their loop devices behind. Needs root, mkfs.ext4 and loop devices."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from flare.sandbox.capabilities import find_mkfs, loop_scratch
from flare.sandbox.tmp_image import MIB, loops_backed_by
from tests.conftest import FlareServer, children_of, create_function, launch, python_function

SUPPORT = loop_scratch(os.geteuid() == 0, find_mkfs())
pytestmark = pytest.mark.skipif(
    not SUPPORT.ok, reason=f"a capped /tmp needs root and loop devices: {SUPPORT.reason}"
)

# Each environment: what its /tmp held and measured on arrival, then fills it past its size (by
# allocating 1 MiB at a time: ext4 counts it as written, the host's disk sees no data).
FILLER = """
import errno, os, time
def handler(event, context):
    found = sorted(os.listdir("/tmp"))
    stat = os.statvfs("/tmp")
    written, error = 0, None
    fd = os.open("/tmp/" + context.aws_request_id, os.O_WRONLY | os.O_CREAT)
    try:
        while written < event["mb"] + 8:
            os.posix_fallocate(fd, written << 20, 1 << 20)
            written += 1
    except OSError as caught:
        error = errno.errorcode[caught.errno]
    os.close(fd)
    time.sleep(event.get("hold", 0))
    return {"found": found, "size": stat.f_blocks * stat.f_frsize, "free": stat.f_bavail * stat.f_frsize,
            "written": written, "error": error, "stream": context.log_stream_name}
"""


def fill(lam: Any, name: str, mb: int, hold: float = 0.0) -> dict[str, Any]:
    payload = json.dumps({"mb": mb, "hold": hold}).encode()
    reply = lam.invoke(FunctionName=name, Payload=payload)
    result: dict[str, Any] = json.loads(reply["Payload"].read())
    return result


def engine_loops(server: FlareServer) -> list[tuple[Path, str]]:
    """Loop devices backed by this engine's files (other engines on the host have their own)."""
    return loops_backed_by(server.data_dir)


def test_environments_made_at_once_each_get_an_empty_private_tmp_of_exactly_their_size(
    tmp_path: Path,
) -> None:
    server = launch(tmp_path)
    try:
        lam = server.client()
        create_function(
            lam, "burst", python_function(FILLER), MemorySize=128, Timeout=60, EphemeralStorage={"Size": 512}
        )
        with ThreadPoolExecutor(10) as pool:  # held 1 s each: 10 environments at once
            results = list(pool.map(lambda _: fill(lam, "burst", 512, hold=1.0), range(10)))
        assert len({result["stream"] for result in results}) == 10
        for result in results:
            assert result["found"] == [], "a new environment's /tmp is empty: no neighbour's file"
            assert result["error"] == "ENOSPC"
            assert 511 <= result["written"] <= 512, result
            assert 512 * MIB <= result["free"] < 513 * MIB, result
        warm = fill(lam, "burst", 0)  # one of them again: its /tmp holds only what it wrote itself
        assert warm["stream"] in {result["stream"] for result in results}
        assert len(warm["found"]) == 1, warm
    finally:
        server.stop()


def test_a_kill_9_of_the_engine_leaves_no_loop_device_or_mount(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        lam = server.client()
        create_function(lam, "held", python_function(FILLER), MemorySize=128, EphemeralStorage={"Size": 512})
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: fill(lam, "held", 1, hold=0.5), range(4)))
        before = engine_loops(server)
        assert len(before) >= 4, "the environments' /tmp images (and the pool's spares) are attached"
        descendants = children_of(server.process.pid)
    finally:
        server.process.kill()  # kill -9: no SHUTDOWN, no unmount, nothing of the engine's runs
        server.process.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (engine_loops(server) or _alive(descendants)):
        time.sleep(0.1)
    assert engine_loops(server) == [], "every loop device detached by itself (autoclear)"
    assert str(server.data_dir) not in Path("/proc/self/mounts").read_text()


def _alive(pids: list[int]) -> bool:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            return True
    return False


def test_the_zygote_holds_none_of_the_scratch_mounts_environments_get_their_tmp_all_the_same(
    tmp_path: Path,
) -> None:
    """Each new sandbox copies the mount table of the zygote it is forked from; the engine's
    holds one scratch mount per live environment, the zygote's none (so a sandbox costs the
    same with 10 or 1,000 environments alive), and /tmp reaches each environment as a tree."""
    server = launch(tmp_path)
    try:
        lam = server.client()
        create_function(lam, "many", python_function(FILLER), MemorySize=128, EphemeralStorage={"Size": 512})
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda _: fill(lam, "many", 1, hold=0.5), range(6)))
        assert all(result["size"] >= 512 * MIB and result["found"] == [] for result in results)
        scratch = str(server.data_dir / "scratch")
        engine_mounts = Path(f"/proc/{server.process.pid}/mountinfo").read_text()
        assert engine_mounts.count(scratch) >= 6, "the engine holds the scratch mounts"
        zygotes = [pid for pid in children_of(server.process.pid) if _is_zygote(pid, server.process.pid)]
        assert zygotes, "the python3.11 zygote is running"
        for zygote in zygotes:
            assert scratch not in Path(f"/proc/{zygote}/mountinfo").read_text()
    finally:
        server.stop()


def _is_zygote(pid: int, engine: int) -> bool:
    try:
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        command = Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False
    return parent == str(engine) and "lambda_python.zygote" in command
