"""A real ``redis-server`` (Debian's) for the tests of nodes that share one Redis.

``RedisServer.start(directory)`` runs one on a free port of ``bind`` with its files in
``directory``; ``appendonly=True`` turns on the AOF (``appendfsync always``), so a restart loses
nothing acknowledged. ``stop`` ends it (SIGTERM, then SIGKILL), ``kill`` SIGKILLs it, ``restart``
starts it again on the same port and directory. Only processes it started are signalled.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import FlareServer, free_port, launch

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


Probe = Callable[[Callable[[], bool]], bool]
"""Runs a reachability check (``RedisServer.answers``) where the server can be reached."""


def available() -> bool:
    return Path(REDIS_SERVER).exists()


@dataclass
class RedisServer:
    directory: Path
    port: int
    bind: str = "127.0.0.1"
    appendonly: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _prefix: list[str] = field(default_factory=list, repr=False)
    _probe: Probe = field(default=lambda check: check(), repr=False)

    @classmethod
    def start(cls, directory: Path, bind: str = "127.0.0.1", appendonly: bool = False) -> RedisServer:
        directory.mkdir(parents=True, exist_ok=True)
        server = cls(directory, free_port(), bind, appendonly)
        server.run()
        return server

    @property
    def url(self) -> str:
        return f"redis://{self.bind}:{self.port}/0"

    def run(self, prefix: Sequence[str] = (), probe: Probe | None = None) -> None:
        """Start the process and wait until it answers PING (10 s at most). ``prefix`` goes
        before the command (``nsenter --net=...``); ``probe(answers)`` runs the check where the
        server can be reached (a thread in its namespace's network). Both are kept for
        ``restart``."""
        self._prefix = self._prefix if not prefix else list(prefix)
        self._probe = self._probe if probe is None else probe
        args = [
            *self._prefix,
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            self.bind,
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"redis-server exited {self.process.returncode}: see {self.directory}/redis.log"
                )
            if self._probe(self.answers):
                return
            time.sleep(0.02)
        raise AssertionError(f"redis-server on {self.bind}:{self.port} did not answer within 10 s")

    def answers(self) -> bool:
        try:
            with socket.create_connection((self.bind, self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.run()


@contextmanager
def one_cluster_node(directory: Path, *extra: str) -> Iterator[FlareServer]:
    """``flare serve --cluster`` as node ``a`` of a Redis of its own (AOF on), looking for work
    in Redis every 0.2 s, with ``extra`` flags; the node and its Redis are ended after."""
    redis_server = RedisServer.start(directory / "redis", appendonly=True)
    try:
        flags = ("--cluster", redis_server.url, "--node-name", "a", "--cluster-poll", "0.2", *extra)
        node = launch(directory / "node", *flags)
        try:
            yield node
        finally:
            node.stop()
    finally:
        redis_server.stop()
