"""Pid 1 of a sandbox's pid namespace: the init that reaps orphans and whose end ends the
namespace.

A new environment's init is ``become_init``: forked by the zygote ahead of the runtime, which is
then forked into its namespace (``sandbox.Forker.spawn_init`` and ``fork_into``). A SnapStart
restore, forked by its template, splits its runtime off itself instead (``split_init``); a
template waits for its own child with ``monitor``.

Stdlib and ctypes only, Python 3.9-compatible: it runs in every zygote.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
from typing import Any, Optional

from lambda_python import child_watch, sandbox


def monitor(child: int) -> None:
    """Wait for ``child`` and leave the same way it did (SIGTERM and friends are ignored
    here: they reach the child through the process group)."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def become_init(plan: dict[str, Any]) -> None:
    """Pid 1 of an environment's pid namespace (see ``sandbox.Forker.spawn_init``): reap orphans
    until the zygote, having seen the runtime exit, kills this process, which ends the
    namespace and kills whatever the function left running. Never returns.

    Nothing in the sandbox learns anything from it, nor can touch it: it closes every file
    descriptor, moves to a mount namespace of its own whose root is a bare skeleton of
    ``plan``'s (read-only, nothing mounted in it), and runs as ``plan["init_uid"]``, no
    environment's, with ``no_new_privs``. It ignores SIGTERM and friends (the engine signals the
    runtime's process group; as pid 1 it would not see them anyway) and dies with the zygote
    (``PR_SET_PDEATHSIG``), which ends its namespace: the runtime, whose own parent-death
    signal went with its change of uid, and everything else in it.

    With ``plan["init_program"]`` (a static build of catatonit, found by the engine), once all
    of that is done it becomes that program in pause mode, which reaps as this loop does and
    keeps none of this interpreter's pages (a forked interpreter cost ~1.9 MiB of private
    pages and its page tables per environment; ``make bench-density``). It leaves the
    zygote's process group first: only its parent, as root, can signal it (SIGTERM and SIGINT
    end catatonit's pause; the sandbox's uids may not signal this one), never a terminal's
    Ctrl-C. Without the program (or if its exec fails) this interpreter stays the init."""
    status = os.open("/proc/self/status", os.O_RDONLY)  # host pids: the parent is seen
    zygote = _parent_pid(status)
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    program = _open_program(plan.get("init_program"))  # the new root holds no program
    inherited = [int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) != program]  # nor /proc
    try:
        sandbox.check(sandbox.libc.unshare(sandbox.CLONE_NEWNS), "unshare mount")
        sandbox.mount("", "/", "", sandbox.MS_REC | sandbox.MS_PRIVATE)
        root = plan["root"]
        sandbox.mount(plan["skeleton"], root, "", sandbox.MS_BIND)
        bare = sandbox.MS_RDONLY | sandbox.MS_NOSUID | sandbox.MS_NODEV | sandbox.MS_NOEXEC
        sandbox.mount("", root, "", sandbox.MS_REMOUNT | sandbox.MS_BIND | bare)
        sandbox.enter_root(root)
        sandbox.drop_privileges(plan["init_uid"], plan["gid"])
    except OSError as error:
        os.write(2, f"flare: environment init failed: {error}\n".encode())
        os._exit(1)
    # A change of uid clears the parent-death signal, so it is set after; and if the zygote
    # died before, this process was adopted already: then it leaves at once.
    sandbox.libc.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    if _parent_pid(status) != zygote:
        os._exit(1)
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    if program >= 0:
        _become_pause(program)
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        signal.sigwait({signal.SIGCHLD})


def _open_program(path: Optional[str]) -> int:
    """A close-on-exec descriptor of the init program at ``path`` (to be run once this process
    is inside its bare root), or -1 without one."""
    if not path:
        return -1
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return -1


def _become_pause(program: int) -> None:
    """Exec the init program (``program``, a descriptor: the bare root holds no file) in pause
    mode: no child of its own, reaping every orphan handed to it, until SIGKILLed. Returns only
    if the exec failed (then this interpreter stays the init)."""
    os.setsid()
    child_watch.shrink_table(program + 1)
    # SIGCHLD stays blocked across the exec: one pending now stays pending, and catatonit,
    # which blocks it too before reading signals, sees it
    with contextlib.suppress(OSError):
        os.execve(program, ["catatonit", "-P"], {})
    with contextlib.suppress(OSError):
        os.close(program)


def _parent_pid(status_fd: int) -> int:
    """The ``PPid`` of an open ``/proc/<pid>/status`` (read afresh at each call)."""
    for line in os.pread(status_fd, 4096, 0).decode().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise OSError("no PPid in /proc/self/status")


def split_init(status_fd: int) -> None:
    """Fork the runtime off this namespace's pid 1, which stays behind as its init (a
    SnapStart restore, forked by its template; a new environment's init is ``become_init``).

    The init reaps orphans and, when the runtime exits, writes the runtime's raw wait status to
    ``status_fd`` and exits, which ends the namespace. It ignores SIGTERM and friends: the
    engine signals the whole process group, so the runtime gets each signal once (forwarding
    would deliver it twice and interrupt the function's own SIGTERM handler or atexit hooks).
    Returns in the runtime (pid 2: ordinary signal semantics, as on Lambda).
    """
    child = os.fork()
    if child == 0:
        os.close(status_fd)
        return
    for fd in os.listdir("/proc/self/fd"):
        if int(fd) != status_fd:
            with contextlib.suppress(OSError):
                os.close(int(fd))

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            os.write(status_fd, struct.pack("i", status))
            os._exit(0)
