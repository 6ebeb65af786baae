"""SIGTERM to an engine holding live environments: the seconds until it exits, and what of its
own it left behind (used by :mod:`bench.scale`).

Only what this engine made is looked at (other engines run on the same host): the processes
that descended from it when the signal was sent, its own parent cgroups
(``flare/e<pid>-<start time>`` under each hierarchy, see ``flare.sandbox.cgroups``), loop
devices backed by files under its data directory, and mounts of that directory.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from bench import harness
from flare.sandbox.cgroups import engine_owner
from flare.sandbox.tmp_image import loops_backed_by

SETTLE_S = 1.0
"""How long after the engine's exit a leftover may still be on its way out (a process being
reaped, a loop device detaching itself once its last mount went with a namespace)."""


def descendants(root: int) -> list[int]:
    """Every live descendant of ``root``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (a zombie is only waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def leftovers(pids: list[int], owner: str, data_dir: Path) -> list[str]:
    """What is left of an engine: its processes, cgroups, loop devices and mounts."""
    left = [f"process {pid}" for pid in pids if _running(pid)]
    root = Path("/sys/fs/cgroup")
    cgroups = [*root.glob(f"*/flare/{owner}"), *root.glob(f"flare/{owner}")]
    left += [f"cgroup {path}" for path in cgroups]
    left += [f"loop {device} ({backing})" for device, backing in loops_backed_by(data_dir)]
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    left += [f"mount {line.split()[4]}" for line in mounts if str(data_dir) in line]
    return left


def sigterm(server: harness.Server, data_dir: Path, timeout_s: float = 60.0) -> tuple[float, list[str]]:
    """SIGTERM the engine alone (not its process group); the seconds until it exited, and
    what it left (after up to ``SETTLE_S`` for the last of it to go)."""
    pid = server.process.pid
    owner = engine_owner(pid)
    pids = descendants(pid)
    began = time.perf_counter()
    os.kill(pid, signal.SIGTERM)
    server.process.wait(timeout_s)
    took = time.perf_counter() - began
    deadline = time.monotonic() + SETTLE_S
    while leftovers(pids, owner, data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    return took, leftovers(pids, owner, data_dir)
