"""The zygote's watch over its children (``runtimes/lambda_python/child_watch.py``): every exit
reaped with its status, by the watcher's pidfds or, for a child it could not make one for (or
once the watcher is gone), by the old scan; the zygote holds no descriptor per child, and a new
child closes every handle the watch holds. Real processes."""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Iterator

import pytest

from flare.runtimes.lambda_python.child_watch import ChildWatch

held: list[int] = []  # the write ends that keep ``child``'s children waiting


def child(code: int) -> int:
    """A child that waits for its stdin's pipe to close, then exits with ``code``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write)
        os.read(read, 1)
        os._exit(code)
    os.close(read)
    held.append(write)
    return pid


def wait_exits(watch: ChildWatch, count: int) -> dict[int, int]:
    """Reap until ``count`` children have been, polling the watch's descriptor."""
    found: dict[int, int] = {}
    poller = select.poll()  # the watch's descriptor is above select()'s limit
    poller.register(watch.fileno(), select.POLLIN)
    for _ in range(200):
        if len(found) >= count:
            break
        poller.poll(50)
        found.update(watch.exited())
    return found


@pytest.fixture
def watch() -> Iterator[ChildWatch]:
    made = ChildWatch()
    yield made
    made.close()


def release_all() -> None:
    for fd in held:
        os.close(fd)
    held.clear()


def test_each_exit_is_reaped_once_with_its_status(watch: ChildWatch) -> None:
    pids = {child(code): code for code in (3, 4, 5)}
    for pid in pids:
        watch.watch(pid)
    assert watch.exited() == []
    release_all()
    found = wait_exits(watch, 3)
    assert {pid: os.waitstatus_to_exitcode(status) for pid, status in found.items()} == pids
    assert watch.exited() == []


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_watching_process_holds_no_descriptor_per_child(watch: ChildWatch) -> None:
    """What a fork copies and each new environment closes: no pidfd per live child."""
    before = open_descriptors()
    pids = [child(0) for _ in range(50)]
    held_before = len(held)
    for pid in pids:
        watch.watch(pid)
    assert open_descriptors() - before == held_before  # only the test's own pipes
    release_all()
    assert set(wait_exits(watch, 50)) == set(pids)


def test_a_child_without_a_pidfd_is_found_by_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(pid: int) -> int:
        raise OSError(24, "Too many open files")

    with monkeypatch.context() as patch:
        patch.setattr(os, "pidfd_open", refuse)  # in the watcher, forked now
        watch = ChildWatch()
    try:
        pids = {child(7): 7, child(8): 8}
        for pid in pids:
            watch.watch(pid)
        release_all()
        found = wait_exits(watch, 2)
        assert {pid: os.waitstatus_to_exitcode(status) for pid, status in found.items()} == pids
    finally:
        watch.close()


def test_children_are_still_reaped_once_the_watcher_is_gone(watch: ChildWatch) -> None:
    first = child(1)
    watch.watch(first)
    os.kill(watch.watcher, signal.SIGKILL)
    later = child(2)
    watch.watch(later)
    release_all()
    found = wait_exits(watch, 2)
    assert {pid: os.waitstatus_to_exitcode(status) for pid, status in found.items()} == {first: 1, later: 2}


def handles_in_a_new_child(watch: ChildWatch) -> str:
    """What a child forked now holds among pidfds, epoll sets and the watch's pipes after
    ``close_in_child``."""
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            mine = {os.readlink(f"/proc/self/fd/{fd}") for fd in (watch.fileno(), watch._to_watcher)}
            watch.close_in_child()
            kinds = []
            for fd in os.listdir("/proc/self/fd"):
                with contextlib.suppress(OSError):  # the listing's own descriptor, gone
                    kinds.append(os.readlink(f"/proc/self/fd/{fd}"))
            watchs = sorted(k for k in kinds if "pidfd" in k or "eventpoll" in k or k in mine)
            os.write(report_w, repr(watchs).encode())
        finally:
            os._exit(0)
    os.close(report_w)
    os.waitpid(pid, 0)  # not watched
    with os.fdopen(report_r, "rb") as report:
        return report.read().decode()


def test_a_new_child_holds_none_of_the_watchs_handles(watch: ChildWatch) -> None:
    sleeper = os.fork()
    if sleeper == 0:
        signal.pause()
        os._exit(0)
    try:
        watch.watch(sleeper)
        assert handles_in_a_new_child(watch) == "[]"
    finally:
        os.kill(sleeper, signal.SIGKILL)
    assert wait_exits(watch, 1) == {sleeper: signal.SIGKILL}
