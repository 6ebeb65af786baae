"""Which of the zygote's children exited, found without scanning them all, and without a
descriptor per child in the zygote.

``waitpid(-1)`` walks the caller's whole list of children to find one that exited, and once
more to learn that none is left: a zygote holding 1,000 environments (each a runtime and its
init, 2,000 children) spent ~0.8 ms per exit in that walk (2026-12-05, perf). A pidfd per
child (readable once it has exited) finds the exit without the walk, and ``waitpid(pid)`` then
reaps it directly. But a pidfd held by the zygote is in every process it forks: each fork
copies the descriptor table, and each new environment then closes them all, ~0.35 ms of each
cold start's fork beside 1,000 live environments (2,000 pidfds; perf, 2026-12-05).

So the pidfds live in a small process of their own, the *watcher* (forked once, when the
watch is made, holding nothing else): the zygote writes each child's pid to it on a pipe, the
watcher opens the child's pidfd (any process may: the zygote stays its parent), and when one
becomes readable writes the pid back; the zygote reaps it with ``waitpid(pid)``. A pid stays
the zygote's zombie until then, so the watcher's pidfd can never name another process. A
child the watcher could not open a pidfd for (too many open files, a kernel without pidfds)
is reported as such and found by the old scan; so is every child once the watcher is gone.

Stdlib only, Python 3.9-compatible: it runs in every zygote.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import resource
import select
import signal
import struct
from typing import Dict, List, Set, Tuple

SYS_CLOSE_RANGE = 436  # x86_64 and aarch64 alike
CLOSE_RANGE_UNSHARE = 2
PR_SET_PDEATHSIG = 1
SEM_T_SIZE = 64  # sizeof(sem_t) is 32 on 64-bit Linux
RECORD = struct.Struct("i")  # one pid; negative on the way back: no pidfd could be made for it
_libc = ctypes.CDLL(None, use_errno=True)
_libc.pthread_create.argtypes = [
    ctypes.POINTER(ctypes.c_ulong),
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
]
_libc.sem_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint]
# The semaphore ``shrink_table``'s thread waits on: this process's own (copied at the fork),
# alive until the exec, unlike a local that would be freed under the waiting thread.
_NEVER_POSTED = ctypes.create_string_buffer(SEM_T_SIZE)


class ChildWatch:
    """The zygote's children, each watched by a pidfd the watcher holds (see the module's
    docstring). ``watch``, ``exited`` and ``close`` are called from the zygote's one thread."""

    def __init__(self) -> None:
        pids_r, self._to_watcher = os.pipe()
        self._from_watcher, exits_w = os.pipe()
        self.watcher = os.fork()
        if self.watcher == 0:
            code = 1
            try:
                _watcher_loop(pids_r, exits_w)
                code = 0
            finally:
                os._exit(code)
        os.close(pids_r)
        os.close(exits_w)
        os.set_blocking(self._from_watcher, False)
        self._partial = b""
        self._watched: Set[int] = set()  # pids the watcher was told of and not reaped yet
        self._unwatched = 0  # children with no pidfd, found by scanning
        self._watcher_gone = False
        self._quiet_w = -1  # once the watcher is gone: keeps ``fileno()``'s pipe from hanging up

    def fileno(self) -> int:
        """Readable when a watched child has exited (or the watcher is gone)."""
        return self._from_watcher

    def watch(self, pid: int) -> None:
        """Watch child ``pid`` (one that has exited already is found at the next ``exited``)."""
        if not self._watcher_gone:
            try:
                os.write(self._to_watcher, RECORD.pack(pid))
                self._watched.add(pid)
                return
            except OSError:
                self._lose_watcher()
        self._unwatched += 1

    def exited(self) -> List[Tuple[int, int]]:
        """Reap every child that has exited: ``(pid, raw wait status)`` of each."""
        reaped: List[Tuple[int, int]] = []
        for pid in self._reported():
            if pid < 0:  # the watcher has no pidfd for it: the scan finds it
                if -pid in self._watched:
                    self._watched.discard(-pid)
                    self._unwatched += 1
                continue
            if pid not in self._watched:  # reaped by a scan already
                continue
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self._watched.discard(pid)
                continue
            if done:  # (0: a late report of an earlier child of that pid, which a scan reaped)
                self._watched.discard(pid)
                reaped.append((done, status))
        if self._unwatched:
            reaped += self._scan()
        return reaped

    def close(self) -> None:
        """Stop the watcher (it exits when its pipe closes) and reap it; close the rest."""
        self._close_pipes()
        if self.watcher > 0:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.watcher, 0)
            self.watcher = -1

    def _close_pipes(self) -> None:
        ends = (
            [self._from_watcher, self._quiet_w]
            if self._watcher_gone
            else [self._from_watcher, self._to_watcher]
        )
        self._watcher_gone = True
        for fd in ends:
            with contextlib.suppress(OSError):
                if fd >= 0:
                    os.close(fd)

    def _reported(self) -> List[int]:
        """The pids the watcher has written back since the last call."""
        data = b""
        while not self._watcher_gone:
            try:
                chunk = os.read(self._from_watcher, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self._lose_watcher()
                break
            data += chunk
        pids, self._partial = _records(self._partial + data)
        return pids

    def _lose_watcher(self) -> None:
        """The watcher is gone (killed, or out of memory): every child it watched, and every
        later one, is found by the scan (woken by SIGCHLD); the watcher itself is reaped by it
        too. ``fileno()`` keeps its number, which pollers hold, but on a pipe nothing writes
        to, so that it is never readable (nor hung up) again."""
        self._watcher_gone = True
        self._unwatched += len(self._watched)
        self._watched.clear()
        quiet_r, self._quiet_w = os.pipe()
        os.dup2(quiet_r, self._from_watcher)
        os.close(quiet_r)
        with contextlib.suppress(OSError):
            os.close(self._to_watcher)

    def _scan(self) -> List[Tuple[int, int]]:
        """The old way, for children with no pidfd: ``waitpid(-1)`` until none has exited."""
        reaped: List[Tuple[int, int]] = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return reaped
            if pid == 0:
                return reaped
            if pid == self.watcher:
                self.watcher = -1
                continue
            if pid in self._watched:
                self._watched.discard(pid)
            else:
                self._unwatched -= 1
            reaped.append((pid, status))

    def close_in_child(self) -> None:
        """In a new child: close the watch's pipe ends (no environment holds a way to it)."""
        self._close_pipes()


def _records(data: bytes) -> Tuple[List[int], bytes]:
    """The whole pids in ``data`` (as read from a pipe), and the bytes of a partial one."""
    whole = len(data) - len(data) % RECORD.size
    return [pid for (pid,) in RECORD.iter_unpack(data[:whole])], data[whole:]


def _watcher_loop(pids_r: int, exits_w: int) -> None:
    """The watcher (see the module): until the zygote closes its end, open a pidfd for each
    pid it is sent and send back the pid of each that exits. Holds nothing but its two pipes
    and the pidfds, so that it never keeps alive what the zygote's other descriptors hold."""
    gc.disable()  # no collection may close a descriptor number a pidfd now holds
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    keep = {pids_r, exits_w}  # the rest closed, the zygote's output pipes too: none stays open
    limit, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 0
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, limit)
    with contextlib.suppress(ValueError, OSError):  # its own table only: it never forks
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    poller = select.epoll()
    poller.register(pids_r, select.EPOLLIN)
    watched: Dict[int, int] = {}  # pidfd => pid
    partial = b""
    while True:
        try:
            events = poller.poll()
        except InterruptedError:
            continue
        gone = []
        for fd, _events in events:
            if fd != pids_r:
                gone.append(watched.pop(fd))
                poller.unregister(fd)
                os.close(fd)
                continue
            data = os.read(pids_r, 65536)
            if not data:
                return  # the zygote closed its end
            pids, partial = _records(partial + data)
            for pid in pids:
                try:
                    pidfd = os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
                except (AttributeError, OSError):
                    gone.append(-pid)
                    continue
                watched[pidfd] = pid
                poller.register(pidfd, select.EPOLLIN)
        if gone:
            out = memoryview(b"".join(RECORD.pack(pid) for pid in gone))
            while out:
                out = out[os.write(exits_w, out) :]


def shrink_table(first: int) -> None:
    """In a new child about to ``exec``: close every descriptor from ``first`` up and leave this
    process with a descriptor table of the kernel's smallest size. A fork copies its parent's
    table at its full size, and the zygote's reaches past its children's pidfds (from
    ``floor``, 2 per live environment: 128 KiB of kernel memory a process at 5,000), which an
    exec keeps. The kernel makes a new table, sized to what stays open, only for a table
    shared with another task (``close_range``'s ``CLOSE_RANGE_UNSHARE``), so a bare thread
    (no interpreter in it: it waits on a semaphore) shares it until the exec ends the thread,
    and the old table with it. Best effort: nothing changes if a step fails."""
    thread = ctypes.c_ulong()
    if _libc.sem_init(_NEVER_POSTED, 0, 0) == 0 and not _libc.pthread_create(
        ctypes.byref(thread), None, ctypes.cast(_libc.sem_wait, ctypes.c_void_p), _NEVER_POSTED
    ):
        _libc.syscall(SYS_CLOSE_RANGE, ctypes.c_uint(first), ctypes.c_uint(0xFFFFFFFF), CLOSE_RANGE_UNSHARE)
