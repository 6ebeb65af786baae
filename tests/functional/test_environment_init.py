"""Each environment's pid 1 (``runtimes/lambda_python/pid1.py``): where Debian's static catatonit
is installed, the init execs it in pause mode once its sandbox is set, and still reaps the
function's orphans and ends, with its namespace, whatever the function left running. Needs root
and cgroups; skips otherwise."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from flare.runtimes.lambda_python.uids import INIT_UID
from flare.sandbox.cgroups import Cgroups
from flare.sandbox.init_program import find_init_program
from tests.conftest import FlareServer, children_of, create_function, python_function
from tests.functional.test_server_lifecycle import wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or Cgroups.detect() is None,
    reason="the sandbox needs root and a cgroup v1/v2 hierarchy (flare doctor says which is missing)",
)

SMALLEST_FD_TABLE = 64  # the kernel's own, inside each process's files_struct
FORKED_INTERPRETER_KIB = 1024  # a forked interpreter's init dirtied ~1.9 MiB of its own pages

LEAVES_CHILDREN = """
import os, time
def handler(event, context):
    if os.fork() == 0:  # an orphan once its parent leaves: it exits after, and init must reap it
        if os.fork() == 0:
            time.sleep(0.3)
            os._exit(0)
        os._exit(0)
    os.wait()
    if os.fork() == 0:  # left running: its own session, sleeping long past the environment
        os.setsid()
        time.sleep(600)
        os._exit(0)
    time.sleep(0.6)
    zombies = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            zombies.append(int(pid))
    procs = len([p for p in os.listdir("/proc") if p.isdigit()])
    return {"uid": os.getuid(), "zombies": zombies, "procs": procs}
"""


def uid_of(pid: int) -> int | None:
    try:
        return Path(f"/proc/{pid}").stat().st_uid
    except OSError:
        return None


def fd_table_size(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("FDSize:"))


def private_dirty_kib(pid: int) -> int:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    return next(int(line.split()[1]) for line in rollup if line.startswith("Private_Dirty:"))


def running_as(engine: int, uid: int) -> list[int]:
    """Live (not zombie) processes of ``engine``'s tree whose owner is ``uid`` (uids are per
    engine: another engine on the host may use the same)."""
    found = []
    for pid in children_of(engine):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if uid_of(pid) == uid and state != "Z":
            found.append(pid)
    return found


def test_the_init_is_the_static_program_and_ends_with_its_environment(flare: FlareServer, lam: Any) -> None:
    program = find_init_program()
    if program is None:
        pytest.skip("no static catatonit installed: a forked interpreter is each environment's init")
    create_function(lam, "leaves-children", python_function(LEAVES_CHILDREN))
    seen = json.loads(lam.invoke(FunctionName="leaves-children")["Payload"].read())
    assert seen["zombies"] == [], "the init reaps an orphan that exits after it became the program"
    assert seen["procs"] == 3, "the init, the runtime and the process it left running"
    inits = [pid for pid in children_of(flare.process.pid) if uid_of(pid) == INIT_UID]
    assert len(inits) >= 2, "the environment's init and the zygote's spare"
    for pid in inits:
        assert os.readlink(f"/proc/{pid}/exe") == program
        assert private_dirty_kib(pid) < FORKED_INTERPRETER_KIB, "none of the zygote's pages are its own"
    engine = flare.process.pid
    left = running_as(engine, seen["uid"])
    assert len(left) == 2, "the function's runtime and what it left running"
    namespace = {os.readlink(f"/proc/{pid}/ns/pid") for pid in left}
    (own_init,) = [pid for pid in inits if os.readlink(f"/proc/{pid}/ns/pid") in namespace]

    # the zygote's descriptor table reaches past its children's pidfds
    assert fd_table_size(own_init) == SMALLEST_FD_TABLE, "the init has no copy of the zygote's"

    lam.delete_function(FunctionName="leaves-children")
    assert wait_for(lambda: not running_as(engine, seen["uid"]), 15), "what the function left running ended"
    assert wait_for(lambda: uid_of(own_init) is None, 15), (
        "the environment's end ended its init, and its namespace"
    )
