"""Nothing of the engine reaches a handler's memory: not its environment variables (an
environment forked from a zygote still holds the zygote's start-up environment on its stack,
next to its command line, whatever ``os.environ`` says now), not its open files (the database,
the data dir)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import FlareServer, create_function, launch, python_function

SECRET = "engine-only-8d1f0c"
SNOOP = """
import ctypes, os

def startup_strings():
    # the process's command line and start-up environment, read off its own stack: write()
    # answers EFAULT past the mapping instead of crashing
    libc = ctypes.CDLL(None, use_errno=True)
    address = ctypes.c_void_p.in_dll(libc, "program_invocation_name").value
    readable, writable = os.pipe()
    found = b""
    for _ in range(64):
        size = 4096 - address % 4096
        written = libc.write(writable, ctypes.c_void_p(address), size)
        if written <= 0:
            break
        found += os.read(readable, written)
        address += written
    return found.decode(errors="replace")

def handler(event, context):
    seen = {"stack": startup_strings()}
    for pid in ("self", "1"):
        try:
            with open("/proc/%s/environ" % pid, "rb") as environ:
                seen[pid] = environ.read().decode(errors="replace")
        except OSError as error:
            seen[pid] = repr(error)
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            pass
    return {"environ": seen, "variables": dict(os.environ), "fds": fds}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLARE_ENGINE_SECRET", SECRET)
        flare = launch(tmp_path_factory.mktemp("leftovers"))
    yield flare
    flare.stop()


def test_a_handler_sees_none_of_the_engines_variables_or_files(server: FlareServer) -> None:
    lam: Any = server.client()
    create_function(lam, "snoop", python_function(SNOOP))
    seen = json.loads(lam.invoke(FunctionName="snoop", Payload=b"{}")["Payload"].read())
    assert SECRET not in json.dumps(seen["variables"])
    for pid, environ in seen["environ"].items():
        assert SECRET not in environ, f"{pid}: the handler reads the engine's variables"
    data_dir = str(server.data_dir.resolve())
    leaked = {fd: target for fd, target in seen["fds"].items() if data_dir in target or "flare.db" in target}
    assert not leaked, leaked


def test_a_handler_holds_no_handle_on_other_environments_processes(server: FlareServer) -> None:
    """The zygote watches each environment's processes through a pidfd (``child_watch.py``);
    none of those, nor its epoll set, reaches a new environment."""
    lam: Any = server.client()
    for name in ("neighbour-1", "neighbour-2"):
        create_function(lam, name, python_function("def handler(e, c):\n    return 1\n"))
        lam.invoke(FunctionName=name, Payload=b"{}")
    create_function(lam, "snoop-fds", python_function(SNOOP))
    seen = json.loads(lam.invoke(FunctionName="snoop-fds", Payload=b"{}")["Payload"].read())
    handles = {fd: target for fd, target in seen["fds"].items() if "pidfd" in target or "eventpoll" in target}
    assert not handles, handles
