"""The event invoke configs (FunctionEventInvokeConfig) of one scope, on the cluster's Redis
(an ``InvokeConfigStorage``).

One hash, ``flare:{<scope>}:invoke-configs``: ``<function>/<qualifier>`` => the config as
JSON. Every write carries its change notice (concern ``invoke_configs``); a node that hears it
reads the scope's configs back, so an async event accepted by any node is retried and routed
to its destinations as the config made through any node says.
"""

from __future__ import annotations

import json
from typing import Any

from flare.cluster.change_notice import NoticedWrites, text
from flare.cluster.link import ClusterLink
from flare.scope import Scope

CONCERN = "invoke_configs"


class RedisInvokeConfigStore:
    """``scope``'s event invoke configs in the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope) -> None:
        self._key = link.scoped(scope, "invoke-configs")
        self._writes = NoticedWrites(link, scope, CONCERN)

    def __repr__(self) -> str:
        return f"<RedisInvokeConfigStore {self._key}>"

    def put_invoke_config(self, function: str, qualifier: str, config: dict[str, Any]) -> None:
        value = json.dumps(config)
        self._writes(function, lambda pipe: pipe.hset(self._key, f"{function}/{qualifier}", value))

    def delete_invoke_configs(self, function: str, qualifier: str | None = None) -> int:
        """Delete one qualifier's config, or every config of ``function`` (qualifier None)."""
        fields = (
            [f"{function}/{qualifier}"]
            if qualifier is not None
            else self._writes.fields_of(self._key, function)
        )
        if not fields:
            return 0
        (deleted,) = self._writes(function, lambda pipe: pipe.hdel(self._key, *fields))
        return int(deleted)

    def invoke_configs(self) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[Any, Any] = self._writes.client.hgetall(self._key)
        configs = {}
        for key, value in found.items():
            function, _, qualifier = text(key).partition("/")
            configs[(function, qualifier)] = json.loads(value)
        return configs
