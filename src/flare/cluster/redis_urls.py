"""The function URL configs of one scope, on the cluster's Redis (a ``UrlStorage``).

One hash, ``flare:{<scope>}:urls``: ``<function>/<alias or ''>`` => the ``UrlRow`` as JSON.
Every write carries its change notice (concern ``urls``, ``change_notice.py``); a node that
hears it reads the scope's configs back, so a URL made through any node is served by every
node. A URL id is 32 random characters, unique by chance (2^128 ids), not checked across the
cluster as SQLite's UNIQUE column checks it on one node.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from flare.cluster.change_notice import NoticedWrites
from flare.cluster.link import ClusterLink
from flare.scope import Scope
from flare.store.urls import UrlRow

CONCERN = "urls"


class RedisUrlStore:
    """``scope``'s function URL configs in the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope) -> None:
        self._key = link.scoped(scope, "urls")
        self._writes = NoticedWrites(link, scope, CONCERN)

    def __repr__(self) -> str:
        return f"<RedisUrlStore {self._key}>"

    def all(self) -> list[UrlRow]:
        found: dict[Any, Any] = self._writes.client.hgetall(self._key)
        rows = [UrlRow(**json.loads(value)) for value in found.values()]
        return sorted(rows, key=lambda row: (row.function, row.qualifier or ""))

    def put(self, row: UrlRow) -> None:
        value = json.dumps(dataclasses.asdict(row))
        self._writes(
            row.function, lambda pipe: pipe.hset(self._key, f"{row.function}/{row.qualifier or ''}", value)
        )

    def delete(self, function: str, qualifier: str | None) -> bool:
        (deleted,) = self._writes(
            function, lambda pipe: pipe.hdel(self._key, f"{function}/{qualifier or ''}")
        )
        return bool(deleted)

    def delete_function(self, function: str) -> int:
        fields = self._writes.fields_of(self._key, function)
        if not fields:
            return 0
        (deleted,) = self._writes(function, lambda pipe: pipe.hdel(self._key, *fields))
        return int(deleted)
