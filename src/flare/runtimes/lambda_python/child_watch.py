"""Which of the zygote's children exited, found without scanning them all.

``waitpid(-1)`` walks the caller's whole list of children to find one that exited, and once
more to learn that none is left: a zygote holding 1,000 environments (each a runtime and its
init, 2,000 children) spent ~0.8 ms per exit in that walk (2026-12-05, perf). Here each child
gets a pidfd (readable once it has exited), all in one epoll set; an exit is then reaped with
``waitpid(pid)``, which the kernel answers without the walk. A child for which no pidfd could
be made (too many open files, a kernel or Python without pidfds) is found by the old scan.

The pidfds and the epoll set sit at or above ``floor`` in the descriptor table, so a new child
closes them all with one ``close_range`` (``close_in_child``): no environment holds a handle
on another's processes.

Stdlib and ctypes only, Python 3.9-compatible: it runs in every zygote.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import select
from typing import Dict, List, Tuple

SYS_CLOSE_RANGE = 436  # x86_64 and aarch64 alike
CLOSE_RANGE_UNSHARE = 2
SEM_T_SIZE = 64  # sizeof(sem_t) is 32 on 64-bit Linux
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


def _floor() -> int:
    """The lowest descriptor used here: a quarter of the soft open-files limit (the zygote's
    own files and those it receives for a spawn stay well below it)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, soft // 4)


class ChildWatch:
    """The zygote's children, each watched by a pidfd (see the module's docstring)."""

    def __init__(self) -> None:
        self.floor = _floor()
        self._top = self.floor
        poller = select.epoll()
        self._epoll = select.epoll.fromfd(self._lift(poller.fileno()))
        poller.close()
        self._pids: Dict[int, int] = {}  # pidfd => pid
        self._pidfds: Dict[int, int] = {}  # pid => pidfd
        self._unwatched = 0  # children with no pidfd, found by scanning

    def fileno(self) -> int:
        """Readable when a watched child has exited."""
        return self._epoll.fileno()

    def _lift(self, fd: int) -> int:
        """``fd`` moved to the lowest free descriptor at or above ``floor`` (close-on-exec)."""
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, self.floor)
        self._top = max(self._top, high)
        return high

    def watch(self, pid: int) -> None:
        """Watch child ``pid`` (one that has exited already is found at the next ``exited``)."""
        try:
            low = os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
        except (AttributeError, OSError):
            self._unwatched += 1
            return
        try:
            fd = self._lift(low)
        except OSError:
            self._unwatched += 1
            return
        finally:
            os.close(low)
        self._pids[fd] = pid
        self._pidfds[pid] = fd
        self._epoll.register(fd, select.EPOLLIN)

    def _forget(self, pid: int) -> None:
        fd = self._pidfds.pop(pid)
        del self._pids[fd]
        self._epoll.unregister(fd)
        os.close(fd)

    def exited(self) -> List[Tuple[int, int]]:
        """Reap every child that has exited: ``(pid, raw wait status)`` of each."""
        reaped = []
        for fd, _events in self._epoll.poll(0):
            pid = self._pids[fd]
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped by a scan below, on an earlier call
                self._forget(pid)
                continue
            if done:
                self._forget(pid)
                reaped.append((pid, status))
        if self._unwatched:
            reaped += self._scan()
        return reaped

    def _scan(self) -> List[Tuple[int, int]]:
        """The old way, for children with no pidfd: ``waitpid(-1)`` until none has exited."""
        reaped = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return reaped
            if pid == 0:
                return reaped
            if pid in self._pidfds:
                self._forget(pid)
            else:
                self._unwatched -= 1
            reaped.append((pid, status))

    def close_in_child(self) -> None:
        """In a new child: close the epoll set and the pidfds (everything from ``floor`` up)."""
        self._epoll.close()  # through its object, which would otherwise close that number again
        if _libc.syscall(SYS_CLOSE_RANGE, ctypes.c_uint(self.floor), ctypes.c_uint(0xFFFFFFFF), 0) != 0:
            os.closerange(self.floor, self._top + 1)


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
