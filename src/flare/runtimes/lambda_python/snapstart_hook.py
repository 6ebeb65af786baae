"""SnapStart for ``awslambdaric``: the snapshot is taken where the client calls ``restore/next``.

Lambda takes a SnapStart snapshot while the runtime client's ``GET /runtime/restore/next`` is
held open, and every restored copy sees that call answered 200. Flare's snapshots are forks of
a live template, so the template loop must run inside the runtime's own process at that
moment. This module arranges it for ``awslambdaric``: it is installed at interpreter start-up
(``usercustomize`` in Flare's runtime directory, reached through ``PYTHONUSERBASE``, which the
engine sets for a SnapStart template's ``bootstrap`` only) and wraps the client's
``restore_next`` once ``awslambdaric.lambda_runtime_client`` is imported:

* in the template, the call becomes ``template.serve_restores`` (it never returns there);
* in each restored copy it returns, and the client makes the real call, which the engine
  answers 200 (every copy keeps the template's ``AWS_LAMBDA_RUNTIME_API``, as awslambdaric's
  compiled client reads it only once; the engine tells the copies apart by their uid). The
  client then runs the after-restore hooks itself.

A runtime client that is not ``awslambdaric`` (or a process started with ``-s``/``-I``) does not
get the hook: its ``restore/next`` reaches the template's Runtime API, and the engine fails the
snapshot saying so.

Stdlib only, Python 3.9-compatible.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import socket
import sys
from types import ModuleType
from typing import Any, Optional, Sequence

CLIENT_MODULE = "awslambdaric.lambda_runtime_client"
FD_VARIABLE = "_FLARE_SNAPSTART_FD"


def install() -> None:
    """Called by ``usercustomize``: arm the wrapper when this process is a SnapStart template."""
    fd = os.environ.pop(FD_VARIABLE, None)
    os.environ.pop("PYTHONUSERBASE", None)
    if fd is not None and fd.isdigit():
        sys.meta_path.insert(0, _WrapOnImport(int(fd)))


class _WrapOnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when the client module is imported, wraps its loader so the
    module is patched right after it runs."""

    def __init__(self, control_fd: int) -> None:
        self.control_fd = control_fd

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
    ) -> Any:
        if fullname != CLIENT_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run_module = loader.exec_module
        control_fd = self.control_fd

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            wrap_restore_next(module, control_fd)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def wrap_restore_next(module: ModuleType, control_fd: int) -> None:
    """Replace ``restore_next`` on awslambdaric's client class (see the module docstring)."""
    client_class = getattr(module, "BaseLambdaRuntimeClient", None) or getattr(
        module, "LambdaRuntimeClient", None
    )
    if client_class is None or not hasattr(client_class, "restore_next"):
        return
    restore_next = client_class.restore_next

    def snapshot_then_restore_next(self: Any) -> Any:
        import http.client  # noqa: F401  (as on Lambda: the client had loaded it for this call)

        from lambda_python import template

        template.serve_restores(socket.socket(fileno=control_fd))
        return restore_next(self)

    client_class.restore_next = snapshot_then_restore_next
