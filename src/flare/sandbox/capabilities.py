"""What this host lets Flare's sandbox do, found by trying rather than guessing.

``probe()`` answers once per process (it is cached; the first call takes a few milliseconds):
whether we are root, which cgroup hierarchy there is and which of its controllers accept a new
group (a test group is made and removed under each), whether namespaces can be unshared (tried
in a forked child, which then exits), whether a loop-mounted ext4 ``/tmp`` can be made, whether
``no_new_privs`` is available, and how many CPUs this process may use.

``Capabilities.guarantees()`` turns those findings into the promises of the sandbox issue, each
ON or OFF with the reason, for the start-up banner and ``flare doctor``. Nothing here changes
the host beyond the short-lived test cgroups and the child's own namespaces.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from flare.runtimes.lambda_python import seccomp
from flare.sandbox.cgroups import PIDS_LIMIT
from flare.sandbox.link_local_block import BLOCKED_V4, BLOCKED_V6, probe_nft
from flare.sandbox.socket_owner import SocketOwners

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "cpu", "pids", "freezer")
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"
LOOP_CONTROL = Path("/dev/loop-control")

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39

MEMORY = "memory limit = MemorySize (OOM → Runtime.OutOfMemory)"
CPU = "CPU share = MemorySize/1769 vCPU"
PIDS = "pids limit 1024"
FREEZE = "freeze between invocations (cgroup freezer)"
NAMESPACES = "own pid/mount/ipc/uts namespaces"
FILESYSTEM = "read-only /var/task, private /tmp of EphemeralStorage MB"
UNPRIVILEGED = "unprivileged uid, no capabilities"
NETWORK = "isolated network (--network isolated)"
ETC = "Lambda's minimal /etc (sbx_user1051, localhost, CA certificates), not the host's"
LINK_LOCAL = f"link-local and metadata addresses unreachable ({', '.join(BLOCKED_V4 + BLOCKED_V6)})"
SECCOMP = "seccomp filter: no mount, ptrace, kexec, bpf, keyrings, modules or user namespaces in handlers"
CALLERS = "a connection's environment named by the kernel (Runtime API, a handler's own calls)"
GUARANTEES = (
    MEMORY,
    CPU,
    PIDS,
    FREEZE,
    NAMESPACES,
    FILESYSTEM,
    UNPRIVILEGED,
    NETWORK,
    ETC,
    LINK_LOCAL,
    SECCOMP,
    CALLERS,
)


@dataclass(frozen=True)
class Finding:
    """One capability: whether it works here, and why (or why not)."""

    ok: bool
    reason: str


@dataclass(frozen=True)
class Capabilities:
    is_root: bool
    cgroup_version: int | None
    cgroup_detail: str
    controllers: dict[str, Finding]
    namespaces: Finding
    network_namespace: Finding
    loop_scratch: Finding
    no_new_privs: Finding
    cpu_count: int
    nftables: Finding = Finding(False, "not probed")
    seccomp: Finding = Finding(False, "not probed")
    socket_diag: Finding = Finding(False, "not probed")
    probe_ms: float = 0.0
    mkfs: str | None = field(default=None)

    def controller(self, name: str) -> Finding:
        return self.controllers.get(name, Finding(False, f"no {name} controller"))

    def found(self) -> list[tuple[str, bool, str]]:
        """Each capability as (name, usable, detail), in a stable order."""
        rows = [
            ("root", self.is_root, f"euid {os.geteuid()}"),
            ("cgroups", self.cgroup_version is not None, self.cgroup_detail),
        ]
        rows += [
            (f"cgroup {name}", self.controller(name).ok, self.controller(name).reason) for name in CONTROLLERS
        ]
        rows += [
            ("pid/mount/ipc/uts namespaces", self.namespaces.ok, self.namespaces.reason),
            ("network namespace", self.network_namespace.ok, self.network_namespace.reason),
            ("loop-mounted ext4 /tmp", self.loop_scratch.ok, self.loop_scratch.reason),
            ("no_new_privs", self.no_new_privs.ok, self.no_new_privs.reason),
            ("nftables", self.nftables.ok, self.nftables.reason),
            ("seccomp filter", self.seccomp.ok, self.seccomp.reason),
            ("socket diagnostics", self.socket_diag.ok, self.socket_diag.reason),
            ("cpus", self.cpu_count > 0, f"{self.cpu_count} usable (sched_getaffinity)"),
        ]
        return rows

    def guarantees(self) -> list[tuple[str, bool, str]]:
        """The sandbox's promises as (guarantee, on, reason), in the order of ``GUARANTEES``."""
        memory, cpu, pids, freezer = (self.controller(name) for name in CONTROLLERS)
        mounts = self.namespaces.ok and self.is_root
        if not mounts:
            filesystem = Finding(False, f"needs root and a mount namespace: {self.namespaces.reason}")
        elif not self.loop_scratch.ok:
            filesystem = Finding(
                False, f"/tmp is a plain directory with no size cap: {self.loop_scratch.reason}"
            )
        else:
            filesystem = Finding(True, "bind mounts in a mount namespace; /tmp is a loop-mounted ext4 image")
        if not self.is_root:
            unprivileged = Finding(False, "not root: functions run as the engine's own uid")
        elif not self.no_new_privs.ok:
            unprivileged = Finding(
                False, f"setuid binaries could regain privileges: {self.no_new_privs.reason}"
            )
        else:
            unprivileged = Finding(
                True, "setuid/setgid to the sandbox uid, capabilities dropped, no_new_privs"
            )
        if mounts:
            etc = Finding(
                True, "built at start in the data dir, mounted read-only (--no-sandbox: the host's /etc)"
            )
        else:
            etc = Finding(
                False,
                f"the host's /etc, read-only: needs root and a mount namespace ({self.namespaces.reason})",
            )
        if not mounts or not self.is_root:
            link_local = Finding(False, "functions run as the engine's own uid, which no rule may block")
        elif not self.nftables.ok:
            link_local = Finding(False, f"reachable from functions: {self.nftables.reason}")
        else:
            link_local = Finding(True, "nftables REJECT on the sandbox uids' output, in every network mode")
        if not mounts:
            filtered = Finding(False, f"installed only in a sandbox: {self.namespaces.reason}")
        else:
            filtered = self.seccomp
        cores = min(self.cpu_count, 6)
        own_uid = self.namespaces.ok and self.is_root  # each environment then runs as its own uid
        if not own_uid:
            callers = Finding(
                False, "functions run as the engine's own uid: any local process may use any Runtime API"
            )
        else:
            callers = self.socket_diag
        nproc = f"RLIMIT_NPROC {PIDS_LIMIT} per environment instead" if own_uid else "no process limit"
        return [
            (MEMORY, memory.ok, memory.reason),
            (CPU, cpu.ok, f"{cpu.reason}; capped at {cores} CPU(s)" if cpu.ok else cpu.reason),
            (PIDS, pids.ok, pids.reason if pids.ok else f"{pids.reason}; {nproc}"),
            (
                FREEZE,
                freezer.ok,
                freezer.reason if freezer.ok else f"SIGSTOP of the process group instead ({freezer.reason})",
            ),
            (NAMESPACES, self.namespaces.ok, self.namespaces.reason),
            (FILESYSTEM, filesystem.ok, filesystem.reason),
            (UNPRIVILEGED, unprivileged.ok, unprivileged.reason),
            (NETWORK, self.network_namespace.ok, self.network_namespace.reason),
            (ETC, etc.ok, etc.reason),
            (LINK_LOCAL, link_local.ok, link_local.reason),
            (SECCOMP, filtered.ok, filtered.reason),
            (CALLERS, callers.ok, callers.reason),
        ]


@functools.cache
def probe() -> Capabilities:
    """This host's capabilities, found on the first call and remembered."""
    return detect()


def detect(cgroup_root: Path = CGROUP_ROOT) -> Capabilities:
    """Find every capability now (uncached). ``cgroup_root`` is for tests."""
    started = time.perf_counter()
    is_root = os.geteuid() == 0
    version, detail, controllers = probe_cgroups(cgroup_root)
    namespaces, network = probe_namespaces()
    mkfs = find_mkfs()
    return Capabilities(
        is_root=is_root,
        cgroup_version=version,
        cgroup_detail=detail,
        controllers=controllers,
        namespaces=namespaces,
        network_namespace=network,
        loop_scratch=loop_scratch(is_root, mkfs),
        no_new_privs=probe_no_new_privs(),
        nftables=Finding(*probe_nft()),
        seccomp=probe_seccomp(),
        socket_diag=probe_socket_diag(),
        cpu_count=len(os.sched_getaffinity(0)),
        probe_ms=(time.perf_counter() - started) * 1000,
        mkfs=mkfs,
    )


# --- cgroups -----------------------------------------------------------------------------


def probe_cgroups(root: Path) -> tuple[int | None, str, dict[str, Finding]]:
    """(version, detail, controller → finding). v2 when ``root/cgroup.controllers`` exists, v1
    when ``root/<controller>`` directories do; each controller is tried with a test group."""
    if (root / "cgroup.controllers").exists():
        return 2, f"v2 (unified) at {root}", _probe_v2(root)
    present = [name for name in CONTROLLERS if (root / name).is_dir()]
    if present:
        hybrid = (
            " (hybrid: a v2 hierarchy without controllers at unified/)" if (root / "unified").is_dir() else ""
        )
        return 1, f"v1 at {root}/<controller>{hybrid}", {name: _probe_v1(root, name) for name in CONTROLLERS}
    missing = {name: Finding(False, f"no cgroup hierarchy at {root}") for name in CONTROLLERS}
    return None, f"none found at {root}", missing


def _probe_v1(root: Path, name: str) -> Finding:
    hierarchy = root / name
    if not hierarchy.is_dir():
        return Finding(False, f"{hierarchy} is not mounted")
    return _try_group(hierarchy, f"cgroup v1 {name} controller at {hierarchy}")


def _probe_v2(root: Path) -> dict[str, Finding]:
    available = set(_read(root / "cgroup.controllers").split())
    trial = _try_group(root, f"v2 {root}")
    findings = {}
    for name in CONTROLLERS:
        if not trial.ok:
            findings[name] = trial
        elif name == "freezer":
            # v2 has no freezer controller: every non-root group has cgroup.freeze (5.2+).
            findings[name] = (
                trial if _kernel_at_least(5, 2) else Finding(False, "kernel < 5.2: no cgroup.freeze")
            )
        elif name in available:
            findings[name] = Finding(True, f"v2 {root} (enabled for flare/ via cgroup.subtree_control)")
        else:
            findings[name] = Finding(False, f"{name} not in {root}/cgroup.controllers")
    return findings


def _try_group(parent: Path, label: str) -> Finding:
    """Make and remove a test group under ``parent``."""
    trial = parent / f"flare-probe-{os.getpid()}"
    try:
        trial.mkdir()
    except FileExistsError:
        pass
    except OSError as error:
        return Finding(False, f"cannot create a group under {parent}: {error.strerror}")
    try:
        trial.rmdir()
    except OSError as error:
        return Finding(False, f"cannot remove test group {trial}: {error.strerror}")
    return Finding(True, label)


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        parts = os.uname().release.split(".")
        return (int(parts[0]), int(parts[1].split("-")[0])) >= (major, minor)
    except (ValueError, IndexError):
        return False


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# --- namespaces, no_new_privs -------------------------------------------------------------


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def probe_socket_diag() -> Finding:
    """Whether the kernel names a loopback connection's owner (``socket_owner.py``): asked
    about a connection made here."""
    owners = SocketOwners()
    try:
        with (
            socket.create_server(("127.0.0.1", 0)) as server,
            socket.create_connection(server.getsockname()) as client,
        ):
            owner = owners.owner_of(client.getsockname(), server.getsockname())
    except OSError as error:
        return Finding(False, f"no socket diagnostics (NETLINK_SOCK_DIAG): {error.strerror or error}")
    finally:
        owners.close()
    if owner != os.geteuid():
        return Finding(False, f"socket diagnostics named uid {owner} for the engine's own connection")
    return Finding(True, "the uid owning each connection's client socket, from NETLINK_SOCK_DIAG")


def probe_seccomp() -> Finding:
    """Whether the handlers' filter (``runtimes/lambda_python/seccomp.py``) installs: tried in a
    forked child (with ``no_new_privs``, as a sandbox has it), which exits 0 when it did."""
    if seccomp.PROGRAM is None:
        return Finding(False, f"no system call table for {os.uname().machine}")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports and exits
        code = 1
        try:
            _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            seccomp.install()
            code = 0
        except OSError as error:
            code = error.errno or 1
        finally:
            os._exit(code)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code != 0:
        return Finding(False, f"prctl(PR_SET_SECCOMP) refused: {errno.errorcode.get(code, code)}")
    return Finding(True, f"{len(seccomp.PROGRAM) // 8}-instruction BPF filter, EPERM (clone3: ENOSYS)")


def probe_namespaces() -> tuple[Finding, Finding]:
    """(pid/mount/ipc/uts, network): each tried with ``unshare(2)`` in a forked child, which
    writes the two errnos (0 = it worked) to a pipe and exits."""
    try:
        unshare = _libc().unshare
    except AttributeError:
        gone = Finding(False, "libc has no unshare()")
        return gone, gone
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports and exits
        try:
            os.close(read_end)
            results = []
            for flags in (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS, CLONE_NEWNET):
                results.append(0 if unshare(flags) == 0 else ctypes.get_errno())
            os.write(write_end, f"{results[0]} {results[1]}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        answer = os.read(read_end, 64).decode().split()
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if len(answer) != 2:
        lost = Finding(False, "the probing child did not answer")
        return lost, lost
    ns_errno, net_errno = (int(value) for value in answer)
    return (
        _unshare_finding(ns_errno, "unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS)"),
        _unshare_finding(net_errno, "unshare(CLONE_NEWNET)"),
    )


def _unshare_finding(code: int, call: str) -> Finding:
    if code == 0:
        return Finding(True, f"{call} works")
    name = errno.errorcode.get(code, str(code))
    return Finding(False, f"{call} failed: {name} ({os.strerror(code)})")


def probe_no_new_privs() -> Finding:
    try:
        result = _libc().prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
    except AttributeError:
        return Finding(False, "libc has no prctl()")
    if result < 0:
        return Finding(False, f"prctl(PR_GET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}")
    return Finding(True, "prctl(PR_SET_NO_NEW_PRIVS) available")


# --- loop-mounted scratch ----------------------------------------------------------------


def find_mkfs() -> str | None:
    """``mkfs.ext4`` on PATH or in the sbin directories (often missing from a user's PATH)."""
    path = os.environ.get("PATH", "")
    return shutil.which("mkfs.ext4", path=f"{path}:{SBIN_PATH}" if path else SBIN_PATH)


def loop_scratch(is_root: bool, mkfs: str | None) -> Finding:
    """Whether a size-capped ext4 image can be loop-mounted for each environment's /tmp."""
    if not is_root:
        return Finding(False, "not root: cannot mount loop devices")
    if mkfs is None:
        return Finding(False, f"mkfs.ext4 not found on PATH or in {SBIN_PATH}")
    if not LOOP_CONTROL.exists():
        return Finding(False, f"{LOOP_CONTROL} missing: no loop device support")
    return Finding(True, f"{mkfs} and {LOOP_CONTROL}")
