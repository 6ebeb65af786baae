"""Capability probing on this host, and the guarantees a set of findings turns into."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flare.cli.doctor import report_lines
from flare.cli.main import main
from flare.sandbox.capabilities import (
    CONTROLLERS,
    ETC,
    FILESYSTEM,
    FREEZE,
    GUARANTEES,
    LINK_LOCAL,
    NETWORK,
    SECCOMP,
    UNPRIVILEGED,
    Capabilities,
    Finding,
    detect,
    find_mkfs,
    loop_scratch,
    probe,
    probe_cgroups,
)

CGROUP = Path("/sys/fs/cgroup")
IS_ROOT = os.geteuid() == 0
ROOT_V1_HOST = IS_ROOT and (CGROUP / "memory").is_dir() and not (CGROUP / "cgroup.controllers").exists()


def _everything(ok: bool) -> Capabilities:
    finding = Finding(ok, "works" if ok else "missing")
    return Capabilities(
        is_root=ok,
        cgroup_version=1 if ok else None,
        cgroup_detail="test",
        controllers={name: finding for name in CONTROLLERS},
        namespaces=finding,
        network_namespace=finding,
        loop_scratch=finding,
        no_new_privs=finding,
        nftables=finding,
        seccomp=finding,
        socket_diag=finding,
        cpu_count=8,
    )


# --- this host -----------------------------------------------------------------------------


def test_probe_is_cached() -> None:
    assert probe() is probe()


def test_detect_leaves_no_test_cgroup_behind() -> None:
    detect()
    assert [*CGROUP.glob("*/flare-probe-*"), *CGROUP.glob("flare-probe-*")] == []


def test_cpu_count_is_this_process_affinity() -> None:
    assert detect().cpu_count == len(os.sched_getaffinity(0))


@pytest.mark.skipif(not ROOT_V1_HOST, reason="asserts what a root host with cgroup v1 offers")
def test_root_cgroup_v1_host_has_every_capability() -> None:
    found = detect()
    assert found.is_root
    assert found.cgroup_version == 1
    assert {name: found.controller(name).ok for name in CONTROLLERS} == dict.fromkeys(CONTROLLERS, True)
    assert found.namespaces.ok, found.namespaces.reason
    assert found.network_namespace.ok, found.network_namespace.reason
    assert found.loop_scratch.ok == (find_mkfs() is not None and Path("/dev/loop-control").exists())
    assert found.no_new_privs.ok
    if found.loop_scratch.ok:
        assert all(on for _, on, _ in found.guarantees())


@pytest.mark.skipif(IS_ROOT, reason="asserts what a host without root offers")
def test_without_root_nothing_privileged_is_claimed() -> None:
    found = detect()
    rows = {name: on for name, on, _ in found.guarantees()}
    assert not found.is_root
    assert not found.loop_scratch.ok
    assert rows[FILESYSTEM] is False
    assert rows[UNPRIVILEGED] is False


# --- cgroup layouts, from fake hierarchies --------------------------------------------------


def test_v2_is_recognised_by_cgroup_controllers(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    version, detail, controllers = probe_cgroups(tmp_path)
    assert version == 2
    assert "v2" in detail
    assert controllers["memory"].ok and controllers["cpu"].ok and controllers["pids"].ok
    assert not list(tmp_path.glob("flare-probe-*"))


def test_v2_controller_missing_from_cgroup_controllers_is_off(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    _, _, controllers = probe_cgroups(tmp_path)
    assert not controllers["pids"].ok
    assert "pids not in" in controllers["pids"].reason


def test_v1_controllers_are_found_one_by_one(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    (tmp_path / "freezer").mkdir()
    version, _, controllers = probe_cgroups(tmp_path)
    assert version == 1
    assert {name: finding.ok for name, finding in controllers.items()} == {
        "memory": True,
        "cpu": False,
        "pids": False,
        "freezer": True,
    }
    assert "not mounted" in controllers["cpu"].reason


def test_no_hierarchy_means_no_controllers(tmp_path: Path) -> None:
    version, detail, controllers = probe_cgroups(tmp_path)
    assert version is None
    assert "none found" in detail
    assert not any(finding.ok for finding in controllers.values())


def test_loop_scratch_needs_root_and_mkfs() -> None:
    assert not loop_scratch(False, "/usr/sbin/mkfs.ext4").ok
    assert "mkfs.ext4 not found" in loop_scratch(True, None).reason


# --- guarantees ---------------------------------------------------------------------------


def test_guarantees_are_the_issue_list_in_order() -> None:
    assert [name for name, _, _ in _everything(True).guarantees()] == list(GUARANTEES)
    assert GUARANTEES == (
        "memory limit = MemorySize (OOM → Runtime.OutOfMemory)",
        "CPU share = MemorySize/1769 vCPU",
        "pids limit 1024",
        "freeze between invocations (cgroup freezer)",
        "own pid/mount/ipc/uts namespaces",
        "read-only /var/task, private /tmp of EphemeralStorage MB",
        "unprivileged uid, no capabilities",
        "isolated network (--network isolated)",
        "Lambda's minimal /etc (sbx_user1051, localhost, CA certificates), not the host's",
        "link-local and metadata addresses unreachable (169.254.0.0/16, fe80::/10, fd00:ec2::254)",
        "seccomp filter: no mount, ptrace, kexec, bpf, keyrings, modules or user namespaces in handlers",
        "a connection's environment named by the kernel (Runtime API, a handler's own calls)",
    )


@pytest.mark.parametrize("ok", [True, False])
def test_every_guarantee_follows_its_findings(ok: bool) -> None:
    rows = _everything(ok).guarantees()
    assert all(on is ok for _, on, _ in rows)
    assert all(reason for _, _, reason in rows)


def test_cpu_share_says_the_host_cap() -> None:
    rows = dict((name, reason) for name, _, reason in _everything(True).guarantees())
    assert "capped at 6 CPU(s)" in rows["CPU share = MemorySize/1769 vCPU"]


def test_no_freezer_falls_back_to_sigstop() -> None:
    caps = _everything(True)
    caps = replace(caps, controllers={**caps.controllers, "freezer": Finding(False, "not mounted")})
    (freeze,) = [(on, reason) for name, on, reason in caps.guarantees() if name == FREEZE]
    assert freeze[0] is False
    assert freeze[1].startswith("SIGSTOP of the process group instead")


@pytest.mark.parametrize(
    ("change", "guarantee", "says"),
    [
        ({"loop_scratch": Finding(False, "no loop")}, FILESYSTEM, "no size cap"),
        ({"namespaces": Finding(False, "EPERM")}, FILESYSTEM, "mount namespace"),
        ({"namespaces": Finding(False, "EPERM")}, ETC, "host's /etc"),
        ({"is_root": False}, ETC, "needs root"),
        ({"is_root": False}, LINK_LOCAL, "engine's own uid"),
        ({"nftables": Finding(False, "nft not found")}, LINK_LOCAL, "nft not found"),
        ({"seccomp": Finding(False, "EINVAL")}, SECCOMP, "EINVAL"),
        ({"namespaces": Finding(False, "EPERM")}, SECCOMP, "only in a sandbox"),
        ({"is_root": False}, UNPRIVILEGED, "not root"),
        ({"no_new_privs": Finding(False, "old kernel")}, UNPRIVILEGED, "setuid"),
        ({"network_namespace": Finding(False, "EPERM")}, NETWORK, "EPERM"),
    ],
)
def test_a_missing_capability_turns_its_guarantee_off_with_a_reason(
    change: dict[str, Any], guarantee: str, says: str
) -> None:
    caps = replace(_everything(True), **change)
    rows = {name: (on, reason) for name, on, reason in caps.guarantees()}
    assert rows[guarantee][0] is False
    assert says in rows[guarantee][1]


# --- flare doctor ---------------------------------------------------------------------------


def test_report_lines_show_each_capability_and_guarantee() -> None:
    lines = report_lines(_everything(False))
    assert sum(line.startswith("  OFF  ") for line in lines) == len(GUARANTEES)
    assert any("SIGSTOP" in line for line in lines)
    assert any("cgroup memory" in line for line in lines)


def test_doctor_prints_every_guarantee_and_exits_0() -> None:
    result = CliRunner().invoke(main, ["doctor", "--plain"])
    assert result.exit_code == 0, result.output
    for guarantee in GUARANTEES:
        assert guarantee in result.output
    assert "Capabilities" in result.output


def test_doctor_does_not_import_aiohttp_or_boto3() -> None:
    code = (
        "import sys\nfrom flare.cli.main import main\n"
        "try:\n    main(['doctor', '--plain'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'boto3', 'botocore')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
