"""Starting and stopping servers, and deploying the benchmark function to Flare.

Every server is started in its own session (process group) so that stopping it also ends
the children it spawned (function runtimes); nothing else is ever signalled.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FLARE_BIN = REPO / ".venv" / "bin" / "flare"
FUNCTION_NAME = "bench-hello"
ROLE = "arn:aws:iam::000000000000:role/bench"
HANDLER_SOURCE = 'def handler(event, context):\n    return {"ok": True}\n'
NODE_HANDLER_SOURCE = "exports.handler = async () => ({ ok: true });\n"
"""The Node.js hello-world (``index.js``, async CommonJS), run by Flare and by the peer."""


class ServerError(RuntimeError):
    """A server failed to start or died; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 and release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int) -> bool:
    """True if a TCP connection to host:port succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Server:
    """A running server process, its log file and how it is reached."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    host: str
    port: int

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        return f"http://{self.host}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the server's combined stdout/stderr."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float, ready: Callable[[], bool] | None = None) -> float:
        """Block until the port accepts connections (and ``ready()`` is true, if given).

        Returns the seconds waited. Raises :class:`ServerError` if the process exits first
        or ``timeout`` passes.
        """
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if port_open(self.host, self.port) and (ready is None or ready()):
                return time.monotonic() - start
            time.sleep(0.02)
        raise ServerError(
            f"{self.name} not ready on port {self.port} after {timeout:.0f}s:\n{self.log_tail()}"
        )

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the server's process group, then SIGKILL whatever is left of it; idempotent.

        Waits up to ``grace`` seconds for the server itself to exit after SIGTERM.
        """
        pgid = self.process.pid  # start_new_session=True makes the pid the group id
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            self.process.wait()
            return
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        with suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # runtimes the server left behind
        self.process.wait()


@contextmanager
def running(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    ready: Callable[[], bool] | None = None,
) -> Iterator[Server]:
    """Start ``argv`` in a new session, wait until ready, yield it, always stop it.

    Output goes to ``log_path`` (never a pipe, so a chatty server cannot block).
    Raises :class:`ServerError` if it is not ready within ``timeout`` seconds.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, log_path, "127.0.0.1", port)
    try:
        server.wait_ready(timeout, ready)
        yield server
    finally:
        server.stop()


@contextmanager
def flare_server(
    data_dir: Path, log_path: Path, flare_bin: Path = FLARE_BIN, extra_args: Sequence[str] = ()
) -> Iterator[Server]:
    """Run ``flare serve`` on a free port with ``data_dir`` (plus ``extra_args``, e.g.
    ``--no-sandbox``); ready within 10 s or ServerError."""
    if not flare_bin.exists():
        raise ServerError(f"{flare_bin} does not exist (run `make install`)")
    port = free_port()
    argv = [str(flare_bin), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    argv += list(extra_args)
    with running("flare", argv, port=port, log_path=log_path, cwd=REPO, timeout=10.0) as server:
        yield server


def handler_zip(source: str = HANDLER_SOURCE) -> bytes:
    """A deployment package holding ``app.py`` with ``source`` (default: ``handler`` returns
    ``{"ok": True}``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


def lambda_client(url: str) -> Any:
    """A boto3 Lambda client for ``url`` with dummy credentials and no retries."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )


_FAST_WAIT = {"Delay": 0.02, "MaxAttempts": 1500}  # poll every 20 ms, give up after ~30 s


def deploy(
    client: Any,
    name: str = FUNCTION_NAME,
    *,
    source: str = HANDLER_SOURCE,
    memory_mb: int = 128,
    timeout_s: int = 30,
) -> None:
    """CreateFunction (python3.11, ``app.handler`` from ``source``, ``memory_mb``, default the
    hello-world at 128 MB) and wait until it is Active."""
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": handler_zip(source)},
        MemorySize=memory_mb,
        Timeout=timeout_s,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=_FAST_WAIT)


def bump_revision(client: Any, name: str, i: int) -> None:
    """Change an environment variable so the next invoke needs a fresh environment.

    Returns once ``function_updated_v2`` reports the update done; a changed revision must
    not reuse old environments, so the following invoke is a cold start.
    """
    client.update_function_configuration(FunctionName=name, Environment={"Variables": {"BUMP": str(i)}})
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=_FAST_WAIT)
