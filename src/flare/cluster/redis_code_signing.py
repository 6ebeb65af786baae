"""The code signing configs of one scope and the functions bound to them, on the cluster's
Redis (a ``CodeSigningStorage``).

``flare:{<scope>}:code-signing`` (config id => ``{"config", "tags", "seq"}``), its counter
``flare:{<scope>}:code-signing-seq`` (listing order) and ``flare:{<scope>}:code-signing-bindings``
(function => config id). Every write carries its change notice (concern ``code_signing``); a
node that hears it reads the scope's configs and bindings back, so a config attached through
one node is enforced by every node's next deploy.
"""

from __future__ import annotations

import json
from typing import Any

from flare.cluster.change_notice import NoticedWrites, text
from flare.cluster.link import ClusterLink
from flare.scope import Scope
from flare.store.code_signing import CodeSigningRow

CONCERN = "code_signing"
ANY = ""  # the notice of a config's change names no function


class RedisCodeSigningStore:
    """``scope``'s code signing configs in the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope) -> None:
        self._configs = link.scoped(scope, "code-signing")
        self._seq = link.scoped(scope, "code-signing-seq")
        self._bindings = link.scoped(scope, "code-signing-bindings")
        self._writes = NoticedWrites(link, scope, CONCERN)

    def __repr__(self) -> str:
        return f"<RedisCodeSigningStore {self._configs}>"

    def configs(self) -> list[CodeSigningRow]:
        found: dict[Any, Any] = self._writes.client.hgetall(self._configs)
        rows = [
            CodeSigningRow(text(config_id), record["config"], record["tags"], int(record["seq"]))
            for config_id, record in ((key, json.loads(value)) for key, value in found.items())
        ]
        return sorted(rows, key=lambda row: row.seq)

    def put_config(self, row: CodeSigningRow) -> CodeSigningRow:
        """Insert or replace a config (a new one gets the next ``seq``); returns it as stored."""
        client = self._writes.client
        stored = client.hget(self._configs, row.id)
        seq = int(json.loads(stored)["seq"]) if stored is not None else int(client.incr(self._seq))
        value = json.dumps({"config": row.config, "tags": row.tags, "seq": seq})
        self._writes(ANY, lambda pipe: pipe.hset(self._configs, row.id, value))
        return CodeSigningRow(row.id, row.config, row.tags, seq)

    def delete_config(self, config_id: str) -> bool:
        (deleted,) = self._writes(ANY, lambda pipe: pipe.hdel(self._configs, config_id))
        return bool(deleted)

    def bindings(self) -> dict[str, str]:
        found: dict[Any, Any] = self._writes.client.hgetall(self._bindings)
        return {text(name): text(config_id) for name, config_id in found.items()}

    def bind(self, name: str, config_id: str) -> None:
        self._writes(name, lambda pipe: pipe.hset(self._bindings, name, config_id))

    def unbind(self, name: str) -> bool:
        (deleted,) = self._writes(name, lambda pipe: pipe.hdel(self._bindings, name))
        return bool(deleted)
