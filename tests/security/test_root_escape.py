"""A sandbox's root cannot be left: not by a handler (no capabilities, seccomp), and not even by
a process that kept the capability to ``chroot`` (as one would in a user namespace of its own,
which seccomp denies): the new root is moved over the mount namespace's old one
(``sandbox.enter_root``), so the classic escape (``chroot`` into a subdirectory, walk ``..``,
``chroot`` there) lands back in the sandbox's root. The same escape against a root that is only
``chroot``-ed into is shown to reach the host, so the attack is real. Needs root; skips
otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from flare.sandbox.forkserver import RUNTIMES_DIR
from tests.conftest import FlareServer, create_function, python_function

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")

ESCAPE = textwrap.dedent(
    """
    import json, os, sys
    from lambda_python import sandbox

    CLONE_NEWUSER = 0x10000000
    plan, weak, in_user_namespace = json.loads(sys.argv[1]), sys.argv[2] == "weak", sys.argv[3] == "userns"
    if weak:  # the root chroot-ed into, no more
        sandbox.enter_root = lambda root: (os.chroot(root), os.chdir("/"))
    sandbox.build_namespaces(plan)
    seen = {"root before": sorted(os.listdir("/"))}
    if in_user_namespace:  # root of a user namespace of its own: CAP_SYS_CHROOT there
        sandbox.check(sandbox.libc.unshare(CLONE_NEWUSER | sandbox.CLONE_NEWNS), "unshare")
        seen["umount /"] = sandbox.libc.umount2(b"/", sandbox.MNT_DETACH) == 0
    os.mkdir("/tmp/jail")
    os.chroot("/tmp/jail")  # the working directory stays outside the new root...
    for _ in range(64):
        os.chdir("..")  # ...and walks up from there
    os.chroot(".")
    os.chdir("/")
    seen["root after"] = sorted(os.listdir("/"))
    print(json.dumps(seen))
    """
)


def attempt(tmp_path: Path, weak: bool, user_namespace: bool = False) -> dict[str, Any]:
    """Build a sandbox root (a skeleton marked ``inside-the-sandbox``, a tmpfs /tmp, /proc) in
    a new process, try the escape there as root, and say what ``/`` held before and after."""
    skeleton, root = tmp_path / "skeleton", tmp_path / "root"
    for directory in (skeleton / "tmp", skeleton / "proc", root):
        directory.mkdir(parents=True, exist_ok=True)
    (skeleton / "inside-the-sandbox").touch()
    plan = {"namespaces": True, "root": str(root), "skeleton": str(skeleton), "binds": [],
            "tmpfs": [["/tmp", 1]], "devices": []}  # fmt: skip
    argv = [sys.executable, "-c", ESCAPE, json.dumps(plan), "weak" if weak else "strong",
            "userns" if user_namespace else "-"]  # fmt: skip
    done = subprocess.run(
        argv, env={"PYTHONPATH": str(RUNTIMES_DIR)}, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_the_escape_reaches_the_host_from_a_root_only_chrooted_into(tmp_path: Path) -> None:
    seen = attempt(tmp_path, weak=True)
    assert "inside-the-sandbox" in seen["root before"]
    assert "inside-the-sandbox" not in seen["root after"] and "proc" in seen["root after"], seen


def test_the_escape_stays_in_the_sandboxs_root(tmp_path: Path) -> None:
    seen = attempt(tmp_path, weak=False)
    assert seen["root before"] == seen["root after"] == ["inside-the-sandbox", "proc", "tmp"]


def test_in_a_user_namespace_the_root_can_neither_be_unmounted_nor_left(tmp_path: Path) -> None:
    seen = attempt(tmp_path, weak=False, user_namespace=True)
    assert seen["umount /"] is False, "the copied mounts are locked together"
    assert seen["root before"] == seen["root after"] == ["inside-the-sandbox", "proc", "tmp"]


PROBE = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def outcome(result):
    return "allowed" if result == 0 else errno.errorcode[ctypes.get_errno()]
def handler(event, context):
    top, above = os.stat("/"), os.stat("/../../..")
    fd = os.open("/", os.O_RDONLY)
    parent = os.stat("..", dir_fd=fd)
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
    return {
        "above is /": (above.st_dev, above.st_ino) == (top.st_dev, top.st_ino),
        "parent is /": (parent.st_dev, parent.st_ino) == (top.st_dev, top.st_ino),
        "chroot": outcome(libc.chroot(b"/tmp")), "umount /": outcome(libc.umount2(b"/", 2)),
        "mount points": mounts,
    }
"""


def test_a_handler_sees_no_way_above_its_root(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "climber", python_function(PROBE))
    seen = json.loads(lam.invoke(FunctionName="climber")["Payload"].read())
    assert seen["above is /"] and seen["parent is /"], seen
    assert (seen["chroot"], seen["umount /"]) == ("EPERM", "EPERM")
    assert "/" in seen["mount points"], seen
    assert not {"/sys", "/run", "/boot", str(flare.data_dir)} & set(seen["mount points"]), seen
