"""``resident.peak_kb``: the largest of the processes' summed peaks, the cgroup's peak and the
runtime's report, read from a ``cgroup.procs``-shaped file."""

from __future__ import annotations

import os
from pathlib import Path

from flare.sandbox import exits, resident


def listing(tmp_path: Path, pids: list[int]) -> str:
    path = tmp_path / "cgroup.procs"
    path.write_text("".join(f"{pid}\n" for pid in pids))
    return str(path)


def test_the_largest_peak_counts_whole_and_the_other_processes_their_private_pages(tmp_path: Path) -> None:
    own = exits.peak_rss_kb(os.getpid())
    hold, release = os.pipe()
    child = os.fork()
    if child == 0:  # shares every page with its parent until it writes one
        os.read(hold, 1)
        os._exit(0)
    try:
        assert own > 0 and exits.peak_rss_kb(child) > 0
        counted = resident.peak_kb(listing(tmp_path, [child, os.getpid()]), 0, 0, None)
        peaks = exits.peak_rss_kb(os.getpid()), exits.peak_rss_kb(child)
        assert max(peaks) <= counted < max(peaks) + min(peaks) / 2, (counted, peaks)  # shared once
        assert 0 < resident.private_kb(child) < exits.peak_rss_kb(child) / 2
    finally:
        os.write(release, b"x")
        os.waitpid(child, 0)
        os.close(hold)
        os.close(release)


def test_the_cgroups_peak_wins_when_larger(tmp_path: Path) -> None:
    huge = 1 << 40
    assert resident.peak_kb(listing(tmp_path, [os.getpid()]), huge, 0, None) == huge // 1024


def test_a_cgroup_gone_leaves_what_the_runtime_reported(tmp_path: Path) -> None:
    assert resident.peak_kb(str(tmp_path / "gone" / "cgroup.procs"), 0, 1234, None) == 1234


def test_without_a_cgroup_the_report_or_else_the_process_peak_counts() -> None:
    assert resident.peak_kb(None, 0, 1234, os.getpid()) == 1234
    assert resident.peak_kb(None, 0, 0, os.getpid()) == exits.peak_rss_kb(os.getpid())


def test_the_listing_is_v2s_own_or_v1s_memory_controllers() -> None:
    dirs = {"unified": Path("/u"), "memory": Path("/m/mem"), "cpu": Path("/m/cpu")}
    assert resident.procs_file_of(dirs, 2) == "/u/cgroup.procs"
    assert resident.procs_file_of(dirs, 1) == "/m/mem/cgroup.procs"
