"""Without cgroups (no pids controller), an environment's processes are still capped: its own
uid's RLIMIT_NPROC, set as it drops its privileges, as ``flare doctor`` says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flare.sandbox.cgroups import PIDS_LIMIT, Cgroups
from flare.sandbox.forkserver import RUNTIMES_DIR
from flare.sandbox.isolation import FixedMounts, Isolation, mount_plan
from tests.unit.test_launcher import version

FIXED = FixedMounts((), (), "/skeleton")


def isolation(cgroups: Cgroups | None) -> Isolation:
    return Isolation(True, cgroups, Path("/mnt"), Path("/sdk"), 2)


def test_without_cgroups_the_plan_caps_the_environments_processes() -> None:
    assert mount_plan(FIXED, version(), isolation(None), None, 20_001)["nproc"] == PIDS_LIMIT


def test_with_cgroups_the_pids_controller_caps_them() -> None:
    assert "nproc" not in mount_plan(FIXED, version(), isolation(Cgroups(1, Path("/x"))), None, 20_001)


FORKER = f"""
import os, sys, time
sys.path.insert(0, {str(RUNTIMES_DIR)!r})
from lambda_python import sandbox
sandbox.drop_privileges(61_234, 990, 5)
children = []
for _ in range(10):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    children.append(pid)
for child in children:
    os.kill(child, 9)
print(len(children))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another uid needs root")
def test_the_dropped_uid_cannot_fork_past_its_rlimit() -> None:
    made = subprocess.run(
        [sys.executable, "-c", FORKER], capture_output=True, text=True, check=True, timeout=30
    )
    assert int(made.stdout) == 4  # five processes of that uid: itself and four children
