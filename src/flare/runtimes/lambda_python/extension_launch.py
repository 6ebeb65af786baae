"""Starting a function's external extensions inside its sandbox, ahead of its runtime.

Runs in the environment's process after the sandbox is entered (same uid, cgroup, namespaces,
seccomp) and before the runtime starts (``zygote._become_environment``). ``start``:

* forks a *supervisor*, which forks each executable of ``/opt/extensions`` (its stdout and
  stderr: the extensions' own log pipe, so that the engine tells their output from the
  function's) and writes one line per extension that ends,
  ``<name> <raw wait status>\\n``, to the engine's status pipe; it leaves when all have ended;
* then, in the runtime's process, waits on the gate pipe until the engine says every extension
  has registered (Lambda's order: extensions init, then the runtime's), and returns. The gate
  closed without a byte (the engine gave up on INIT) ends the process.

Stdlib only, Python 3.9-compatible: it runs in every zygote.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

LAUNCH_FAILED = 127  # an extension that could not be exec'd leaves with this status


def start(spec: dict[str, Any], fds: list[int]) -> None:
    """Start ``spec["paths"]`` with ``spec["env"]``; ``spec["status"]``, ``spec["gate"]`` and
    ``spec["log"]`` index ``fds``. Returns in the runtime's process once the gate opens."""
    status_fd, gate_fd, log_fd = fds[spec["status"]], fds[spec["gate"]], fds[spec["log"]]
    if os.fork() == 0:
        code = 1
        try:
            os.close(gate_fd)
            _supervise(spec["paths"], spec["env"], status_fd, log_fd)
            code = 0
        finally:
            os._exit(code)
    os.close(status_fd)
    os.close(log_fd)
    opened = os.read(gate_fd, 1)
    os.close(gate_fd)
    if not opened:
        os._exit(1)


def _supervise(paths: list[str], env: dict[str, str], status_fd: int, log_fd: int) -> None:
    """Fork every extension (its output on ``log_fd``), then report each one's end on
    ``status_fd``."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    names: dict[int, str] = {}
    for path in paths:
        pid = os.fork()
        if pid == 0:
            _become_extension(path, env, log_fd)
        names[pid] = os.path.basename(path)
    os.close(log_fd)
    while names:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return
        name = names.pop(pid, None)
        if name is not None:
            with contextlib.suppress(OSError):
                os.write(status_fd, f"{name} {status}\n".encode())


def _become_extension(path: str, env: dict[str, str], log_fd: int) -> None:
    """In the forked child: default signals, stdout and stderr on ``log_fd``, nothing else
    open but stdin, ``exec`` ``path``."""
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        for fd in os.listdir("/proc/self/fd"):
            if int(fd) > 2:
                with contextlib.suppress(OSError):
                    os.close(int(fd))
        os.execve(path, [path], env)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.write(2, f"flare: extension {path} could not start: {error.strerror}\n".encode())
    os._exit(LAUNCH_FAILED)
