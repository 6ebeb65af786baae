"""The debug server of a debugged environment (``control/debug_settings.py``): its port, where
debugpy is, and what the runtime is told. Python environments run debugpy; Node.js ones
Node's own inspector (``NODE_DEBUG_VARIABLE``), whose INIT waits as long.

debugpy (``make install`` puts it in ``<venv>/lambda-debug``, a directory of its own, pure
Python so one copy serves every ``python3.N``) is seen by debugged environments only: a
sandbox mounts it read-only at ``/var/debug`` and the runtime appends that to ``sys.path``
before it imports the handler (``runtimes/lambda_python/debugger.py``); no other environment
has the mount, so none can import it. Without a sandbox the runtime is given its host path.

The server listens on ``127.0.0.1`` only. In the default network mode an environment shares the
host's network, so that is a host port; an environment with a network of its own (``--network
isolated``) gets a host listener forwarded into it (``debug_forward.py``). Ports are handed out
here, engine-wide: the lowest one from the function's ``FLARE_DEBUG_PORT`` on that no live
environment holds and nothing else on the host has bound, so two live debugged environments
count up (5678, 5679, ...); the log of each says its port.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path
from typing import Any

from flare.control.debug_settings import DebugSettings

DEBUG_DIR = "/var/debug"
HOST = "127.0.0.1"
PORTS_TRIED = 16


def debugpy_dir() -> Path | None:
    """Where debugpy is installed for environments (``$FLARE_DEBUGPY_DIR``, else
    ``<venv>/lambda-debug``); None when it is not there."""
    path = Path(os.environ.get("FLARE_DEBUGPY_DIR", Path(sys.prefix) / "lambda-debug"))
    return path if (path / "debugpy" / "__init__.py").is_file() else None


class DebugPorts:
    """The host ports live debug servers hold, engine-wide: a sack of leases, one per
    environment, each released when its environment stops."""

    def __init__(self) -> None:
        self._held: set[int] = set()

    def __repr__(self) -> str:
        return f"<DebugPorts held={sorted(self._held)}>"

    def take(self, first: int) -> int:
        """The lowest port of ``first`` .. ``first + PORTS_TRIED - 1`` that no environment holds
        and that can be bound on 127.0.0.1 now, held until ``release``. Raises OSError
        (EADDRINUSE) when there is none."""
        for port in range(first, min(first + PORTS_TRIED, 65536)):
            if port not in self._held and _bindable(port):
                self._held.add(port)
                return port
        last = min(first + PORTS_TRIED, 65536) - 1
        raise OSError(errno.EADDRINUSE, f"no free debug port from {first} to {last} on {HOST}")

    def release(self, port: int) -> None:
        """Give ``port`` back (one not held is ignored: stop may run twice)."""
        self._held.discard(port)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


NODE_DEBUG_VARIABLE = "_FLARE_DEBUG"
"""Tells Flare's Node.js runtime where to open the inspector and how long INIT waits for a
debugger (``runtime_spec`` as JSON; removed before the handler loads:
``runtimes/lambda_node/debugger.js``)."""


def runtime_spec(settings: DebugSettings, port: int, debug_dir: str | None) -> dict[str, Any]:
    """What the runtime needs to start the debug server (the SPAWN header's ``debug``):
    ``dir`` (debugpy's directory as the function sees it; None: not installed), ``host``,
    ``port`` and ``wait_s``."""
    return {"dir": debug_dir, "host": HOST, "port": port, "wait_s": settings.wait_s}


def jdwp_option(settings: DebugSettings, port: int) -> str:
    """The JVM option that runs a Java environment under JDWP (the Java Debug Wire Protocol,
    which ``jdb``, IntelliJ and VS Code's Java debugger speak), listening on ``HOST:port``. With
    a wait (``FLARE_DEBUG_WAIT`` > 0) the JVM is suspended before ``main`` until a debugger
    attaches (``suspend=y``, so breakpoints in static initializers and INIT are hit); JDWP cannot
    be released by a timer, so without a debugger INIT runs into its limit (the function's INIT
    limit plus the wait) and fails. With 0 it runs at once (``suspend=n``) and a debugger may
    attach at any time."""
    suspend = "y" if settings.wait_s > 0 else "n"
    return f"-agentlib:jdwp=transport=dt_socket,server=y,suspend={suspend},address={HOST}:{port}"
