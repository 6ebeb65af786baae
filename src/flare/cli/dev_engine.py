"""The engine ``flare dev`` runs on: one already answering at the endpoint, or one it starts.

A started engine is ``flare serve`` in a session of its own (so the terminal's Ctrl-C reaches
``flare dev`` only, which then stops the engine by its pid: SIGTERM, and SIGKILL if it has not
ended after ``STOP_TIMEOUT_S``). Its output goes to a file in its data directory.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from flare.cli.client import CommandFailed

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
PROBE_TIMEOUT_S = 1.0
LOG_NAME = "dev-serve.log"


def log_path(data_dir: Path) -> Path:
    """Where a started engine's output goes: ``LOG_NAME`` in its data directory."""
    return data_dir / LOG_NAME


def host_and_port(endpoint: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(endpoint)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)


def answers(endpoint: str) -> bool:
    """Whether an HTTP server answers at ``endpoint`` (any status: an unsigned request is
    refused by Flare under ``--auth sigv4``, but it is answered)."""
    host, port = host_and_port(endpoint)
    connection = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT_S)
    try:
        connection.request("GET", "/2015-03-31/functions/")
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def start(endpoint: str, data_dir: Path) -> subprocess.Popen[bytes]:
    """Start ``flare serve`` listening at ``endpoint``'s host and port, with ``data_dir``; wait
    until it answers. Raises CommandFailed when it exits or does not answer in time; it is
    stopped then, as when the wait is interrupted."""
    host, port = host_and_port(endpoint)
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "flare.cli.main", "serve", "--host", host, "--port", str(port)]
    command += ["--data-dir", str(data_dir)]
    with log_path(data_dir).open("ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not answers(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                raise CommandFailed(f"flare serve did not start: see {log_path(data_dir)}")
            time.sleep(0.05)
    except BaseException:  # CommandFailed, or a Ctrl-C while it starts
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> int:
    """Stop the engine ``start`` started, by its pid: SIGTERM, then SIGKILL after
    ``STOP_TIMEOUT_S``. Returns its exit status."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
    try:
        return process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        return process.wait()
