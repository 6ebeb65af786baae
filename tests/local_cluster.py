"""Several ``flare serve --cluster`` nodes on 127.0.0.1 sharing one ``RedisServer``: the tests
of the cluster's shared queues, until they move to network-namespaced hosts.

``LocalCluster.start(tmp, redis, names, *extra)`` starts one node per name (each its own data
directory and port, the same ``extra`` flags); ``everywhere`` creates a resource on every node
that does not see it yet, so a test keeps working once the registry is shared by all nodes.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import FlareServer, children_of, launch
from tests.redis_server import RedisServer


@dataclass
class LocalCluster:
    redis: RedisServer
    nodes: dict[str, FlareServer]

    @classmethod
    def start(cls, tmp: Path, redis: RedisServer, names: tuple[str, ...], *extra: str) -> LocalCluster:
        nodes: dict[str, FlareServer] = {}
        try:
            for name in names:
                nodes[name] = launch(tmp / name, "--cluster", redis.url, "--node-name", name, *extra)
        except BaseException:
            cls(redis, nodes).stop()
            raise
        return cls(redis, nodes)

    def client(self, node: str, service: str = "lambda") -> Any:
        return self.nodes[node].client(service)

    def everywhere(self, exists: Callable[[Any], object], create: Callable[[Any], object]) -> None:
        """``create(lambda_client)`` on each live node where ``exists(client)`` raises
        ResourceNotFoundException (every node until the registry is shared)."""
        for name, node in self.nodes.items():
            if node.process.poll() is not None:
                continue
            client = self.client(name)
            try:
                exists(client)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                create(client)

    def kill(self, node: str) -> None:
        """SIGKILL ``node``'s engine, then its environments it can no longer stop."""
        server = self.nodes[node]
        orphans = children_of(server.process.pid)
        server.stop(signal.SIGKILL)
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
