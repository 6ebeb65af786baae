"""Per-environment cgroups, v1 or v2: memory = MemorySize, CPU = MemorySize/1769 vCPU (INIT
bursts to two, see ``INIT_BURST_CPUS``), pids, and the freezer.

``Cgroups.detect()`` finds what the host offers (``None`` when nothing usable: the sandbox then
degrades to rlimits and SIGSTOP, and says so). ``Cgroups.create(env_id, limits)`` makes one
``EnvCgroup``; the environment's first process joins it by writing its pid to every path in
``procs_files`` before it runs anything, so every descendant is inside.

v1 layout: ``/sys/fs/cgroup/<controller>/flare/<engine>/<env>`` for memory, cpu, pids, freezer.
v2 layout: ``/sys/fs/cgroup/flare/<engine>/<env>`` with memory, cpu and pids enabled below
``flare``. ``<engine>`` is ``e<pid>-<start time>`` of the engine's process: several engines
share a host (tests start many), and an engine's start-up sweep touches only what engines that
no longer run left behind, never a live engine's cgroup made but not yet joined.

On v1, Flare keeps one empty freezer cgroup frozen for good (``FREEZER_ANCHOR``): that makes
a v1 freeze or thaw write cost ~10 µs instead of ~140 µs.

A hybrid host (v1, plus a v2 hierarchy at ``/sys/fs/cgroup/unified``) could freeze with v2's
``cgroup.freeze`` instead. Flare does not: joining a v2 cgroup moves a whole process, which
waits for an RCU grace period (see ``EnvCgroup.procs_files``) while holding the cgroup lock
that every other cgroup change waits for. With it a 128 MB cold start was 16-27 ms p50 and
21-46 ms p99, without it 11-15 and 14-21 (2026-11-30).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GROUP = "flare"
CFS_PERIOD_US = 100_000
"""The CPU share is enforced per 100 ms, the kernel's default. A shorter period shortens the
stalls of a function that outruns its share but makes more of its invocations meet one: a
128 MB hello-world driven back to back (2026-11-30, INIT with its burst CPU in every case):

=========  =============  =============
 period     warm p50 (ms)  warm p99 (ms)
=========  =============  =============
 100 ms     0.58-0.61      65-67
 20 ms      0.73           17.4-17.6
 14 ms      0.79-0.90      13.3-14.0
=========  =============  =============

(14 ms is the shortest at which 128 MB's quota stays above the kernel's 1 ms minimum.) The
median invocation matters more, so the default stays."""
INIT_BURST_CPUS = 2.0
"""INIT runs with burst CPU whatever the memory size: up to two unthrottled vCPUs. AWS Labs'
Lambda Web Adapter documents "up to 10 seconds for function initialization with burst CPU" (on
its async init), and published measurements put it at two vCPUs even at 128 MB. Only
the INIT phase within the init limit gets it (on-demand, provisioned, a SnapStart version's);
a suppressed INIT retried inside an invocation, a restore and every invocation run at the
memory size's share. Capped at the host's CPUs."""
MIB = 1024 * 1024
V1_CONTROLLERS = ("memory", "cpu", "pids", "freezer")
PIDS_LIMIT = 1024
"""Processes an environment may have (its pids cgroup; without cgroups, its RLIMIT_NPROC)."""
FREEZER_ANCHOR = "flare-anchor"
"""An empty v1 freezer cgroup (a sibling of ``flare``) that Flare freezes and leaves frozen.

Linux (6.1 and later) turns its ``freezer_active`` static key on while any v1 cgroup is frozen,
and patches kernel text to do so each time the number of frozen cgroups goes from 0 to 1 or
back, with an IPI to every CPU. With one environment frozen after each invocation and thawed
for the next, every freeze and every thaw paid that patch. Measured on this project's 2-vCPU VM
(a cgroup holding one sleeping process, p50 of 400, 2026-11-30):

=============  ==============  ==============
 write          anchor thawed   anchor frozen
=============  ==============  ==============
 freeze         137-143 µs      8-12 µs
 thaw           145-151 µs      10-15 µs
=============  ==============  ==============

It holds no process, so it costs nothing else. It stays when the engine exits: another engine
on the host may be relying on it, and an empty cgroup is harmless."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    cpus: float
    pids: int = PIDS_LIMIT


def cpu_share(memory_mb: int, host_cpus: int) -> float:
    """Lambda's CPU model: 1769 MB buys one vCPU, linearly, capped at 6 and at the host."""
    return min(memory_mb / 1769.0, 6.0, float(host_cpus))


def init_cpu_share(memory_mb: int, host_cpus: int) -> float:
    """The CPU share during INIT: ``INIT_BURST_CPUS``, or the memory size's if that is more."""
    return max(cpu_share(memory_mb, host_cpus), min(INIT_BURST_CPUS, float(host_cpus)))


def cfs_quota_us(cpus: float) -> int:
    """``cpus`` vCPU as CFS runtime per ``CFS_PERIOD_US`` (the kernel refuses under 1 ms)."""
    return max(1000, int(CFS_PERIOD_US * cpus))


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _keyed(path: Path, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


SWEEP_GRACE_S = 0.1
OWNER = re.compile(r"e(\d+)-(\d+)")


def _start_time(pid: int) -> str | None:
    """Process ``pid``'s start time (clock ticks since boot, ``/proc/<pid>/stat`` field 22)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def engine_owner(pid: int | None = None) -> str:
    """The name of an engine's parent cgroup: ``e<pid>-<start time>`` (the start time tells a
    reused pid apart)."""
    pid = os.getpid() if pid is None else pid
    return f"e{pid}-{_start_time(pid)}"


def owner_alive(owner: str) -> bool:
    """Whether the engine that named a parent cgroup ``owner`` still runs."""
    found = OWNER.fullmatch(owner)
    return found is not None and _start_time(int(found.group(1))) == found.group(2)


SIGKILL_BIT = 1 << (signal.SIGKILL - 1)


def _status(pid: str) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {key: value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())}


def _abandoned(pid: str) -> bool:
    """Whether process ``pid`` belongs to no live engine: gone, killed (a SIGKILL pending: its
    template's pid namespace ended), or orphaned (its init's parent, the zygote, is gone)."""
    status = _status(pid)
    if not status:
        return True
    pending = int(status.get("SigPnd", "0"), 16) | int(status.get("ShdPnd", "0"), 16)
    if pending & SIGKILL_BIT:
        return True
    init = _status(status.get("PPid", "0"))
    return not init or init.get("PPid") in ("0", "1")


def _release_abandoned(path: Path) -> bool:
    """A leftover freezer cgroup (v1 or v2) whose every process is abandoned: SIGKILL them and
    thaw it, so they can die (a v1-frozen process cannot). True when it did."""
    v1_state, v2_freeze = path / "freezer.state", path / "cgroup.freeze"
    if not (v1_state.exists() or v2_freeze.exists()):
        return False
    with contextlib.suppress(OSError):
        pids = (path / "cgroup.procs").read_text().split()
        if pids and all(_abandoned(pid) for pid in pids):
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
            if v1_state.exists():
                _write(v1_state, "THAWED")
            else:
                _write(v2_freeze, "0")
            return True
    return False


HELD_OPEN = 256
"""How many environments keep their cgroup files (``freezer.state``, the memory peak) open
between uses: those that opened them last. The others open them again when next used (~10 µs,
at most once per ``HELD_OPEN`` openings by others): an environment frozen for long then costs
the engine no descriptor, which is what lets 5,000 live environments fit a process's common
20,000-descriptor limit (5 descriptors each before, 4 with this and 3 with the log files'
own cap; 2026-12-05). Oldest opened first rather than least recently used: a use that finds
its files open costs nothing more on the invoke path."""


class _HeldFiles:
    """The ``HELD_OPEN`` environments whose cgroup files stay open, in the order they opened
    them. Used from the event loop's thread only."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._holders: OrderedDict[EnvCgroup, None] = OrderedDict()

    def opened(self, group: EnvCgroup) -> None:
        """``group`` opened a file; past the capacity, the first to open closes its own."""
        holders = self._holders
        holders[group] = None
        while len(holders) > self.capacity:
            oldest, _ = holders.popitem(last=False)
            oldest.close_files()

    def forget(self, group: EnvCgroup) -> None:
        self._holders.pop(group, None)

    def __len__(self) -> int:
        return len(self._holders)


HELD_FILES = _HeldFiles(HELD_OPEN)


class EnvCgroup:
    """One environment's cgroup(s). ``freeze``/``thaw`` are one small write each, and the memory
    peak one ``pread``: the files they use stay open while the environment is among the last
    ``HELD_OPEN`` to open theirs (``HELD_FILES``), and at most until ``remove``."""

    def __init__(self, version: int, dirs: dict[str, Path]) -> None:
        self.version = version
        self.dirs = dirs
        self._frozen = False
        self._fds: dict[str, int] = {}

    def _fd(self, name: str, flags: int) -> int:
        fd = self._fds.get(name)
        if fd is None:
            controller, _, file = name.partition("/")
            fd = self._fds[name] = os.open(self.dirs[controller] / file, flags | os.O_CLOEXEC)
            HELD_FILES.opened(self)
        return fd

    @property
    def open_files(self) -> int:
        """How many of its cgroup files this environment holds open now."""
        return len(self._fds)

    def close_files(self) -> None:
        """Close the files kept open; the next use opens them again."""
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)

    @property
    def thaw_file(self) -> str | None:
        """cgroup v1's ``freezer.state``: the zygote writes THAWED there before it kills the
        environment when the engine is gone (a v1-frozen process cannot die; v2 needs none)."""
        return None if self.version == 2 else str(self.dirs["freezer"] / "freezer.state")

    @property
    def procs_files(self) -> list[str]:
        """The files the environment's runtime writes "0" to, to join before it runs anything:
        v1's ``tasks`` (that moves only the writing thread, enough for a process that has one),
        or on a v2 host ``cgroup.procs``. Moving a whole process (v1's ``cgroup.procs``, v2's
        always) takes the kernel's cgroup_threadgroup_rwsem for writing, which waits for an RCU
        grace period: 13-14 ms p50 on this machine, against 0.1 ms for v1's ``tasks``
        (2026-11-30)."""
        if self.version == 2:
            return [str(self.dirs["unified"] / "cgroup.procs")]
        return [str(path / "tasks") for path in self.dirs.values()]

    def freeze(self) -> None:
        if self.version == 2:
            os.write(self._fd("unified/cgroup.freeze", os.O_WRONLY), b"1")
        else:
            os.write(self._fd("freezer/freezer.state", os.O_WRONLY), b"FROZEN")
        self._frozen = True

    def thaw(self) -> None:
        if self.version == 2:
            os.write(self._fd("unified/cgroup.freeze", os.O_WRONLY), b"0")
        else:
            os.write(self._fd("freezer/freezer.state", os.O_WRONLY), b"THAWED")
        self._frozen = False

    def set_cpus(self, cpus: float) -> None:
        """From now on, at most ``cpus`` vCPU (CFS quota per period)."""
        if self.version == 2:
            _write(self.dirs["unified"] / "cpu.max", f"{cfs_quota_us(cpus)} {CFS_PERIOD_US}")
        else:
            _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(cfs_quota_us(cpus)))

    def peak_memory_bytes(self) -> int:
        name = "unified/memory.peak" if self.version == 2 else "memory/memory.max_usage_in_bytes"
        try:
            return int(os.pread(self._fd(name, os.O_RDONLY), 64, 0).split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer has killed a process of this cgroup."""
        if self.version == 2:
            return _keyed(self.dirs["unified"] / "memory.events", "oom_kill") > 0
        return _keyed(self.dirs["memory"] / "memory.oom_control", "oom_kill") > 0

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup (v2 ``cgroup.kill`` where the kernel has it)."""
        if self._frozen:
            with contextlib.suppress(OSError):
                self.thaw()
        if self.version == 2 and (self.dirs["unified"] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(self.dirs["unified"] / "cgroup.kill", "1")
            return
        for path in self.dirs.values():
            with contextlib.suppress(OSError, ValueError):
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), 9)

    def remove(self) -> bool:
        """Delete the cgroup directories; True when all are gone (they must hold no process)."""
        if self._frozen:
            with contextlib.suppress(OSError):
                self.thaw()
        HELD_FILES.forget(self)
        self.close_files()
        gone = True
        for path in self.dirs.values():
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                gone = False
        return gone


class Cgroups:
    """The host's cgroup hierarchy, as Flare uses it."""

    def __init__(self, version: int, root: Path = ROOT, owner: str | None = None) -> None:
        self.version = version
        self.root = root
        self.owner = owner or engine_owner()

    def __repr__(self) -> str:
        return f"<Cgroups v{self.version} {self.root}>"

    @classmethod
    def detect(cls, root: Path = ROOT) -> Cgroups | None:
        """The usable hierarchy, or None (not root, or the controllers are missing)."""
        if os.geteuid() != 0:
            return None
        if (root / "cgroup.controllers").exists():
            candidate = cls(2, root)
        elif all((root / name).is_dir() for name in V1_CONTROLLERS):
            candidate = cls(1, root)
        else:
            return None
        try:
            candidate._prepare()
        except OSError:
            return None
        return candidate

    def _parents(self) -> list[Path]:
        """The ``flare`` cgroups every engine's own cgroups go under."""
        if self.version == 2:
            return [self.root / GROUP]
        return [self.root / n / GROUP for n in (*V1_CONTROLLERS, "unified")]  # unified: older Flares

    def _prepare(self) -> None:
        if self.version == 2:
            parent = self.root / GROUP
            parent.mkdir(exist_ok=True)
            wanted = {"memory", "cpu", "pids"}
            available = set((self.root / "cgroup.controllers").read_text().split())
            enable = " ".join(f"+{name}" for name in sorted(wanted & available))
            _write(self.root / "cgroup.subtree_control", enable)
            _write(parent / "cgroup.subtree_control", enable)
            (parent / self.owner).mkdir(exist_ok=True)
            _write(parent / self.owner / "cgroup.subtree_control", enable)
        else:
            for name in V1_CONTROLLERS:
                (self.root / name / GROUP / self.owner).mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # only a speed-up
                anchor = self.root / "freezer" / FREEZER_ANCHOR
                anchor.mkdir(exist_ok=True)
                _write(anchor / "freezer.state", "FROZEN")

    def _mkdir(self, path: Path) -> None:
        """Make an environment's cgroup, and its engine's parent again if something removed it
        (a Flare from before per-engine parents sweeps every empty cgroup it finds)."""
        try:
            path.mkdir()
        except FileNotFoundError:
            self._prepare()
            path.mkdir()

    def create(self, env_id: str, limits: Limits) -> EnvCgroup:
        """Make ``env_id``'s cgroup with ``limits`` applied. Raises OSError on failure."""
        if self.version == 2:
            path = self.root / GROUP / self.owner / env_id
            self._mkdir(path)
            group = EnvCgroup(2, {"unified": path})
            _write(path / "memory.max", str(limits.memory_mb * MIB))
            with contextlib.suppress(OSError):
                _write(path / "memory.swap.max", "0")
            _write(path / "cpu.max", f"{cfs_quota_us(limits.cpus)} {CFS_PERIOD_US}")
            _write(path / "pids.max", str(limits.pids))
            return group
        dirs = {name: self.root / name / GROUP / self.owner / env_id for name in V1_CONTROLLERS}
        for path in dirs.values():
            self._mkdir(path)
        group = EnvCgroup(1, dirs)
        memory = dirs["memory"]
        _write(memory / "memory.limit_in_bytes", str(limits.memory_mb * MIB))
        with contextlib.suppress(OSError):
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_mb * MIB))
        with contextlib.suppress(OSError):
            _write(memory / "memory.swappiness", "0")
        # the period of a new v1 cgroup is the kernel's default, CFS_PERIOD_US: not written, as
        # each write walks every CPU cgroup on the host (tg_set_cfs_bandwidth), ~0.2 ms
        # beside 1,000 environments
        _write(dirs["cpu"] / "cpu.cfs_quota_us", str(cfs_quota_us(limits.cpus)))
        _write(dirs["pids"] / "pids.max", str(limits.pids))
        return group

    def leftovers(self) -> list[Path]:
        """Environment cgroups that engines no longer running left behind (after a crash, or a
        leak), and the parents they leave (an engine's own, emptied, goes last)."""
        found: list[Path] = []
        for parent in self._parents():
            if not parent.is_dir():
                continue
            for child in parent.iterdir():
                if not child.is_dir():
                    continue
                if not OWNER.fullmatch(child.name):
                    found.append(child)  # an environment of a Flare before per-engine parents
                elif child.name != self.owner and not owner_alive(child.name):
                    found += [grandchild for grandchild in child.iterdir() if grandchild.is_dir()]
                    found.append(child)
        return found

    def sweep(self) -> int:
        """Remove empty leftover environment cgroups; returns how many remain.

        First kills (and thaws) every leftover whose processes all belong to no live engine:
        an engine killed together with its zygote leaves its frozen environments behind (and a
        process frozen by v1's freezer cannot die until thawed). Live engines' cgroups are
        never touched.
        """
        released = [path for path in self.leftovers() if _release_abandoned(path)]
        if released:
            time.sleep(SWEEP_GRACE_S)
        remaining = 0
        for path in self.leftovers():
            try:
                path.rmdir()
            except OSError:
                remaining += 1
        return remaining

    def close(self) -> None:
        """Remove this engine's own parent cgroups, once its environments' are gone."""
        for parent in self._parents():
            with contextlib.suppress(OSError):
                (parent / self.owner).rmdir()
