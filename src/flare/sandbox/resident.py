"""An environment's ``Max Memory Used`` as Lambda counts it: the peak resident memory of the
environment's processes (runtime, handler, its data, extensions), not only what its cgroup was
charged.

Why the cgroup's peak alone is wrong here: a Python environment is forked from a zygote that
has the interpreter and the runtime loaded already. Those pages are shared copy-on-write and
stay charged to the zygote's cgroup, so the environment's cgroup counts only the pages written
after the fork: a python3.12 hello-world peaked at 2 MB there, while its process had 14-15 MB
resident (2026-12-05). On Lambda, where each environment is its own microVM, the same
hello-world reports 30-40 MB (python3.12 at 128 MB; the runtime there, awslambdaric, is
heavier than Flare's bootstrap).

What is counted, each read at REPORT time (after the caller has the answer, unless it asked
for the log tail), the largest wins:

- the resident memory of the processes in the environment's cgroup: the largest ``VmHWM``
  (the kernel's peak resident set, shared pages included: a forked environment counts the
  pages it inherited and touched as its own, as it would alone), plus the private pages
  (``smaps_rollup``'s ``Private_Clean`` + ``Private_Dirty``, now) of each other process, so
  pages the processes share are counted once. A SnapStart restore has two processes, its
  pid-namespace init and the runtime, forked from one another: summing their peaks said
  27 MB for a python3.12 hello-world, against 14 MB for an on-demand one;
- the cgroup's own peak (``memory.peak`` / ``memory.max_usage_in_bytes``), which still holds
  what processes that have exited used, and the page cache the environment was charged;
- what the runtime reported (its ``ru_maxrss``), the figure left without cgroups.

PSS is not used: it divides a shared page between every process mapping it, so one
environment's figure would drop as more environments of the same runtime ran, which an
environment alone (on Lambda) never sees; and reading it walks the page tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from flare.sandbox import exits


def processes(procs_file: str) -> list[int]:
    """The pids listed in a cgroup's ``cgroup.procs`` (none when it is unreadable or gone)."""
    try:
        with open(procs_file, "rb") as procs:
            return [int(pid) for pid in procs.read().split()]
    except (OSError, ValueError):
        return []


def private_kb(pid: int) -> int:
    """The resident pages only ``pid`` maps, in KiB (0 when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            return sum(int(line.split()[1]) for line in rollup if line.startswith(b"Private_"))
    except (OSError, ValueError, IndexError):
        return 0


def processes_kb(pids: Iterable[int]) -> int:
    """The largest ``VmHWM`` of ``pids`` plus the private pages of the others, in KiB."""
    peaks = sorted(((exits.peak_rss_kb(pid), pid) for pid in pids), reverse=True)
    if not peaks:
        return 0
    return peaks[0][0] + sum(private_kb(pid) for _, pid in peaks[1:])


def peak_kb(procs_file: str | None, cgroup_peak_bytes: int, reported_kb: int, pid: int | None) -> int:
    """The environment's peak resident memory in KiB (see the module's docstring). Without a
    cgroup (``procs_file`` None), what the runtime reported, else the ``VmHWM`` of its
    process ``pid``."""
    if procs_file is None:
        return reported_kb or (exits.peak_rss_kb(pid) if pid is not None else 0)
    return max(processes_kb(processes(procs_file)), cgroup_peak_bytes // 1024, reported_kb)


def procs_file_of(dirs: Mapping[str, Path], version: int) -> str:
    """Where a cgroup lists its processes: v2's ``cgroup.procs``, v1's in the memory controller."""
    return str((dirs["unified"] if version == 2 else dirs["memory"]) / "cgroup.procs")
