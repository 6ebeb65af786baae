"""Debugging a Java function (``FLARE_DEBUG``): the JVM runs under JDWP inside its sandbox, and
OpenJDK's own ``jdb`` attaches, sets a breakpoint in the handler, reads a local and continues;
the invocation then answers as usual."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from typing import Any

import pytest

from tests.conftest import FlareServer, create_function, free_port, zip_files
from tests.java_functions import have_javac, java_zip

pytestmark = pytest.mark.skipif(
    not have_javac() or shutil.which("jdb") is None, reason="no javac or jdb on this host"
)

DOUBLER = {
    "example/Doubler.java": """\
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

public class Doubler implements RequestHandler<Map<String, Integer>, String> {
    public String handleRequest(Map<String, Integer> event, Context context) {
        int doubled = event.get("n") * 2;
        String note = "after the breakpoint";
        return doubled + " " + context.getRemainingTimeInMillis();
    }
}
""",
}
BREAK_LINE = 10  # ``String note = ...``: ``doubled`` is set by then


class Jdb:
    """``jdb -attach``, driven through its stdin; its output gathered by a thread."""

    def __init__(self, port: int, within_s: float = 60) -> None:
        deadline = time.monotonic() + within_s
        while True:  # until the JVM's JDWP agent listens (jdb exits at once before that)
            self.process = subprocess.Popen(
                ["jdb", "-attach", f"127.0.0.1:{port}"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            self.output = ""
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()
            try:
                # A jdb that attached is never killed: its leaving would resume the JVM, which
                # would run the invocation before the breakpoint is set. Commands wait for the
                # VM's start event: jdb's event thread dies (NullPointerException) when that
                # event arrives while it handles a command.
                self.wait_for("VM Started", max(1.0, deadline - time.monotonic()))
                self.wait_for("] ", 10)
                return
            except AssertionError:
                if self.process.poll() is None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _read(self) -> None:
        assert self.process.stdout is not None
        while char := self.process.stdout.read(1):
            self.output += char

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def wait_for(self, text: str, within_s: float = 60, after: int = 0) -> int:
        """Until ``text`` is in the output after offset ``after``; its end's offset."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            found = self.output.find(text, after)
            if found >= 0:
                return found + len(text)
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"jdb never said {text!r}:\n{self.output}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.send("exit")
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def listening_port(flare: FlareServer, name: str, within_s: float = 60) -> int:
    """The port the JDWP agent says it listens on, in the function's log (the function's
    ``FLARE_DEBUG_PORT`` unless another process had taken it: the next free one then)."""
    logs, deadline = flare.client("logs"), time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            found = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{name}", filterPattern='"Listening for"'
            )
        except logs.exceptions.ResourceNotFoundException:  # no log line yet
            found = {"events": []}
        for event in found["events"]:
            return int(event["message"].strip().rsplit(":", 1)[1])
        time.sleep(0.1)
    raise AssertionError(f"{name}'s JVM never said where JDWP listens")


@pytest.mark.parametrize("network", ["default", "isolated"])
def test_jdb_stops_a_java_handler_at_a_breakpoint_in_its_sandbox_and_reads_a_local(
    flare: FlareServer, lam: Any, network: str
) -> None:
    """In an isolated network the JVM listens inside it and the engine forwards the host port."""
    if network == "isolated" and os.geteuid() != 0:
        pytest.skip("isolated networks need the sandbox (root)")
    port, name = free_port(), f"java-debugged-{network}"
    variables = {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": str(port), "FLARE_DEBUG_WAIT": "60"}
    code = zip_files(java_zip(DOUBLER))
    create_function(lam, name, code, handler="example.Doubler", runtime="java17", Timeout=3, MemorySize=512,
                    Environment={"Variables": variables}, Tags={"flare:network": network})  # fmt: skip
    answers: list[Any] = []

    def invoke() -> None:
        reply = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 21}))
        answers.append((reply.get("FunctionError"), json.loads(reply["Payload"].read())))

    running = threading.Thread(target=invoke, daemon=True)
    running.start()
    jdb = Jdb(listening_port(flare, name))
    try:
        jdb.send(f"stop at example.Doubler:{BREAK_LINE}")
        jdb.send("resume")  # the JVM waits before main (suspend=y) until a debugger lets it go
        hit = jdb.wait_for(
            f'Breakpoint hit: "thread=main", example.Doubler.handleRequest(), line={BREAK_LINE}'
        )
        time.sleep(4)  # past the function's 3 s timeout: a debugged invocation's is 900 s
        jdb.send("print doubled")
        jdb.wait_for("doubled = 42", after=hit)
        jdb.send("cont")
        running.join(60)
    finally:
        jdb.close()
    assert len(answers) == 1
    error, payload = answers[0]
    assert error is None, payload
    doubled, remaining_ms = payload.split()
    assert doubled == "42" and int(remaining_ms) > 800_000
