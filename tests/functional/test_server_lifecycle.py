"""The server's own life: restart keeps functions, SHUTDOWN of idle environments, clean exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from flare.sandbox.cgroups import engine_owner
from tests.conftest import FLARE, children_of, create_function, free_port, launch, python_function
from tests.signing import signed_urlopen

SHUTDOWN_AWARE = """
import atexit, os, signal, sys, time
def on_term(signum, frame):
    print("SIGTERM received", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
atexit.register(lambda: print("atexit ran", flush=True))
def handler(event, context):
    return context.log_stream_name
"""


def messages(url: str, name: str) -> list[str]:
    with signed_urlopen(f"{url}/flare/v1/functions/{name}/logs") as reply:
        return [event["message"] for event in json.load(reply)["events"]]


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_serve_starts_fast_and_prints_its_url(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [str(FLARE), "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        elapsed = time.monotonic() - started
        assert f"http://127.0.0.1:{port}" in first_line
        assert elapsed < 2.0, elapsed
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0


def test_restart_keeps_functions_and_they_still_run(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        lam = server.client()
        create_function(lam, "kept", python_function("def handler(e, c):\n    return 'still here'\n"))
        server.restart()
        lam = server.client()
        assert lam.get_function(FunctionName="kept")["Configuration"]["FunctionName"] == "kept"
        reply = lam.invoke(FunctionName="kept", Payload=b"{}")
        assert json.loads(reply["Payload"].read()) == "still here"
    finally:
        server.stop()


def test_deploying_or_restarting_starts_the_functions_runtime_before_the_first_invoke(tmp_path: Path) -> None:
    server = launch(tmp_path)

    def zygotes() -> list[int]:
        found = []
        for pid in children_of(server.process.pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    if b"lambda_python.zygote" in cmdline.read():
                        found.append(pid)
            except OSError:
                continue
        return found

    try:
        assert zygotes() == [], "no runtime runs before a function needs one"
        lam = server.client()
        create_function(lam, "warm", python_function("def handler(e, c):\n    return 'ran'\n"))
        deadline = time.monotonic() + 10
        while not zygotes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert zygotes(), "CreateFunction started the runtime's zygote"
        reply = lam.invoke(FunctionName="warm", Payload=b"{}")
        assert json.loads(reply["Payload"].read()) == "ran"
        server.restart()
        deadline = time.monotonic() + 10
        while not zygotes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert zygotes(), "a restarted engine starts the zygotes its stored functions need"
    finally:
        server.stop()


def test_idle_environment_is_shut_down_with_sigterm_and_atexit(tmp_path: Path) -> None:
    server = launch(tmp_path, "--idle-timeout", "1")
    try:
        lam = server.client()
        create_function(lam, "idle", python_function(SHUTDOWN_AWARE), MemorySize=1024)
        stream = json.loads(lam.invoke(FunctionName="idle", Payload=b"{}")["Payload"].read())
        environments = children_of(server.process.pid)
        assert wait_for(lambda: "atexit ran" in messages(server.url, "idle"), timeout=15)
        logged = messages(server.url, "idle")
        assert logged.index("SIGTERM received") < logged.index("atexit ran")
        assert wait_for(lambda: len(children_of(server.process.pid)) < len(environments))
        second = json.loads(lam.invoke(FunctionName="idle", Payload=b"{}")["Payload"].read())
        assert second != stream
    finally:
        server.stop()


def test_stop_shuts_every_environment_down_and_leaves_no_child(tmp_path: Path) -> None:
    server = launch(tmp_path)
    lam = server.client()
    create_function(lam, "graceful", python_function(SHUTDOWN_AWARE), MemorySize=1024)
    stubborn = (
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ndef handler(e, c):\n    return 1\n"
    )
    create_function(lam, "stubborn", python_function(stubborn))
    lam.invoke(FunctionName="graceful", Payload=b"{}")
    lam.invoke(FunctionName="stubborn", Payload=b"{}")
    descendants = children_of(server.process.pid)
    assert len(descendants) >= 3  # a zygote and two environments
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 6  # the stubborn one is killed after the 2 s grace
    assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in descendants), timeout=5)
    server.restart()  # what was logged while stopping was stored: read it back after a restart
    try:
        log = messages(server.url, "graceful")
    finally:
        server.stop()
    assert "SIGTERM received" in log
    assert "atexit ran" in log


def test_init_over_the_limit_is_retried_inside_the_invoke(tmp_path: Path) -> None:
    server = launch(tmp_path, "--init-timeout", "0.5")
    try:
        lam = server.client()
        slow_init = "import time\ntime.sleep(0.8)\ndef handler(e, c):\n    return 'ready'\n"
        create_function(lam, "slowinit", python_function(slow_init), Timeout=3)
        reply = lam.invoke(FunctionName="slowinit", Payload=b"{}")
        assert "FunctionError" not in reply
        assert json.loads(reply["Payload"].read()) == "ready"
        logged = messages(server.url, "slowinit")
        assert any(line.startswith("INIT_REPORT") and "Status: timeout" in line for line in logged)
        too_slow = "import time\ntime.sleep(5)\ndef handler(e, c):\n    return 'never'\n"
        create_function(lam, "tooslow", python_function(too_slow), Timeout=1)
        reply = lam.invoke(FunctionName="tooslow", Payload=b"{}")
        assert reply["FunctionError"] == "Unhandled"
        assert json.loads(reply["Payload"].read())["errorType"] == "Sandbox.Timedout"
    finally:
        server.stop()


STREAM = "def handler(event, context):\n    return context.log_stream_name\n"
FREEZER = Path("/sys/fs/cgroup/freezer/flare")


def frozen_environment(server: Any, name: str) -> Path:
    """Invoke ``name`` once, wait until its environment is frozen; its v1 freezer cgroup (the
    engine's only cgroup with processes: the others are its pool's empty spares)."""
    lam = server.client()
    create_function(lam, name, python_function(STREAM))
    lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
    owner = FREEZER / engine_owner(server.process.pid)
    (cgroup,) = [path for path in owner.iterdir() if path.is_dir() and procs(path)]

    def frozen() -> bool:
        return (cgroup / "freezer.state").read_text().strip() == "FROZEN"

    assert wait_for(frozen)
    return cgroup


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def state_of(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def procs(cgroup: Path) -> list[str]:
    try:
        return (cgroup / "cgroup.procs").read_text().split()
    except OSError:
        return []


@pytest.mark.skipif(not FREEZER.is_dir() or os.geteuid() != 0, reason="needs cgroup v1's freezer")
def test_a_killed_engine_leaves_no_frozen_environment(tmp_path: Path) -> None:
    # The engine alone is killed: its zygote sees the socket close, kills and thaws.
    first = launch(tmp_path / "one")
    cgroup = frozen_environment(first, "frozen-one")
    first.process.kill()
    first.process.wait()
    assert wait_for(lambda: not procs(cgroup)), "the zygote thaws what it kills"

    # Engine and zygotes killed at once: nobody is left to thaw, until the next engine starts.
    second = launch(tmp_path / "two")
    cgroup = frozen_environment(second, "frozen-two")
    engine = second.process.pid
    descendants = children_of(engine)
    zygotes = [pid for pid in descendants if parent_of(pid) == engine]
    for pid in [engine, *zygotes]:  # as a kill of the engine's process group would
        os.kill(pid, signal.SIGKILL)
    second.process.wait()
    time.sleep(0.3)
    assert procs(cgroup), "still frozen: nothing could thaw it"

    def all_gone() -> bool:  # an orphaned zombie stays one: its new parent may never reap it
        return all(state_of(pid) in (None, "Z") for pid in descendants)

    third = launch(tmp_path / "three")
    try:
        assert wait_for(lambda: not procs(cgroup) and not cgroup.exists())
        # the environment's init died with its zygote, but as its namespace's pid 1 it waits
        # for the frozen runtime to die too
        assert wait_for(all_gone), "no process of the killed engine's is left"
    finally:
        third.stop()
