"""The zygote's watch over its children (``runtimes/lambda_python/child_watch.py``): every exit
reaped with its status, by pidfd or, for a child it could not make one for, by the old scan;
a new child closes every handle the watch holds. Real processes."""

from __future__ import annotations

import contextlib
import os
import select
import signal

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


def test_each_exit_is_reaped_once_with_its_status() -> None:
    watch = ChildWatch()
    pids = {child(code): code for code in (3, 4, 5)}
    for pid in pids:
        watch.watch(pid)
    assert watch.exited() == []
    for fd in held:
        os.close(fd)
    held.clear()
    found = wait_exits(watch, 3)
    assert {pid: os.waitstatus_to_exitcode(status) for pid, status in found.items()} == pids
    assert watch.exited() == []


def test_a_child_without_a_pidfd_is_found_by_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    watch = ChildWatch()
    with_fd = child(7)
    watch.watch(with_fd)

    def refuse(pid: int) -> int:
        raise OSError(24, "Too many open files")

    with monkeypatch.context() as patch:
        patch.setattr(os, "pidfd_open", refuse)
        without = child(8)
        watch.watch(without)
    for fd in held:
        os.close(fd)
    held.clear()
    found = wait_exits(watch, 2)
    assert {pid: os.waitstatus_to_exitcode(status) for pid, status in found.items()} == {
        with_fd: 7,
        without: 8,
    }


def handles_in_a_new_child(watch: ChildWatch) -> str:
    """What a child forked now holds among pidfds and epoll sets after ``close_in_child``."""
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            watch.close_in_child()
            kinds = []
            for fd in os.listdir("/proc/self/fd"):
                with contextlib.suppress(OSError):  # the listing's own descriptor, gone
                    kinds.append(os.readlink(f"/proc/self/fd/{fd}"))
            os.write(report_w, repr(sorted(k for k in kinds if "pidfd" in k or "eventpoll" in k)).encode())
        finally:
            os._exit(0)
    os.close(report_w)
    os.waitpid(pid, 0)  # not watched
    with os.fdopen(report_r, "rb") as report:
        return report.read().decode()


def test_a_new_child_holds_none_of_the_watchs_handles() -> None:
    watch = ChildWatch()
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
