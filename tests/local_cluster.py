"""Several ``flare serve --cluster`` nodes on 127.0.0.1 sharing one ``RedisServer``: the quick
tests of the cluster's shared queues (the tests of nodes dying run as hosts in network
namespaces: ``tests/cluster_hosts.py``).

``LocalCluster.start(tmp, redis, names, *extra)`` starts one node per name, each with its own
data directory and port and the same ``extra`` flags; ``stop`` ends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import FlareServer, launch
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

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
