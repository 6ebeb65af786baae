"""The debug server of a debugged environment (``FLARE_DEBUG``), started before the handler's
module is imported, so that breakpoints in import-time code are hit too.

The engine's SPAWN header carries ``debug``: ``{"dir", "host", "port", "wait_s"}``
(``sandbox/debug_ports.py``). ``start`` appends ``dir`` (debugpy, mounted only in debugged
environments) to ``sys.path`` and starts debugpy's server as ``debugpy.listen`` does: its
adapter runs in a second interpreter of the environment (in its sandbox, cgroup and memory),
which keeps accepting editors one after another, so one can detach and attach again (debugpy's
in-process adapter could not take a second client in a sandboxed environment). Then it waits
up to ``wait_s`` seconds of this process's monotonic clock for a client, and goes on without
one after that. pydevd traces with ``sys.settrace``: it needs
threads and sockets, which the sandbox's seccomp filter allows, and not ``ptrace``, which it
denies. Stdlib only, Python 3.9 syntax, runs in the environment.
"""

import json
import os
import sys
import threading
from typing import Any, Dict

TASK_ROOT = "/var/task"


class DebuggerUnavailable(Exception):
    """The debug server could not start (debugpy missing, the port taken)."""


def start(spec: Dict[str, Any]) -> None:
    """Start debugpy's server as ``spec`` says and wait (bounded) for a client; raise
    ``DebuggerUnavailable`` when it cannot start."""
    if not spec.get("dir"):
        raise DebuggerUnavailable("debugpy is not installed for functions on this host (make install)")
    sys.path.append(spec["dir"])
    # pydevd's warning about frozen stdlib modules: they are not the function's code
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    _map_task_root(os.environ.get("LAMBDA_TASK_ROOT", TASK_ROOT))
    try:
        import debugpy

        debugpy.configure(subProcess=False)
        debugpy.listen((spec["host"], spec["port"]))
    except Exception as error:
        message = f"debugpy could not listen on {spec['host']}:{spec['port']}: {error}"
        raise DebuggerUnavailable(message) from None
    address = f"{spec['host']}:{spec['port']}"
    wait_s = float(spec.get("wait_s", 0))
    _say(f"flare: debugpy listening on {address}; waiting {wait_s:g} s for a debugger to attach")
    if wait_s > 0:
        _wait_for_client(debugpy, wait_s)
        attached = debugpy.is_client_connected()
        _say(
            f"flare: debugger attached on {address}" if attached else "flare: no debugger attached: going on"
        )


def _map_task_root(task_root: str) -> None:
    """Without a sandbox the code is at its host path, not ``/var/task``: have pydevd translate
    (``PATHS_FROM_ECLIPSE_TO_PYTHON``, read when it is imported), so an editor maps its local
    directory to ``/var/task`` in either case."""
    if task_root != TASK_ROOT:
        os.environ["PATHS_FROM_ECLIPSE_TO_PYTHON"] = json.dumps([[TASK_ROOT, task_root]])


def _wait_for_client(debugpy: Any, wait_s: float) -> None:
    """``debugpy.wait_for_client``, cancelled after ``wait_s`` seconds."""
    timer = threading.Timer(wait_s, debugpy.wait_for_client.cancel)
    timer.daemon = True
    timer.start()
    try:
        debugpy.wait_for_client()
    finally:
        timer.cancel()


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
