"""A write to one scope's shared concern, made together with its change notice.

Every write of a Redis-backed store goes out as one ``MULTI`` holding the write's commands and
a ``PUBLISH`` of ``{"node", "concern", "function"}`` on the scope's change channel
(``flare:{<scope>}:changes``), so no node sees the change without its notice or the notice
before the change (``registry_changes.py`` reads the concern back when it hears it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flare.cluster.link import ClusterLink
from flare.scope import Scope

if TYPE_CHECKING:
    from redis.client import Pipeline


def channel(link: ClusterLink, scope: Scope) -> str:
    """The change channel of ``scope``."""
    return link.scoped(scope, "changes")


def notice(node: str, concern: str, function: str) -> str:
    return json.dumps({"node": node, "concern": concern, "function": function})


class NoticedWrites:
    """Writes of ``concern`` in ``scope``, each one ``MULTI`` with its notice."""

    def __init__(self, link: ClusterLink, scope: Scope, concern: str) -> None:
        self.client = link.sync
        self._node = link.node_name
        self._channel = channel(link, scope)
        self._concern = concern

    def __call__(self, function: str, commands: Callable[[Pipeline], object]) -> list[Any]:
        """Run ``commands`` (queued on a transaction) and the notice for ``function``; the
        commands' replies, the notice's left out."""
        with self.client.pipeline(transaction=True) as pipe:
            commands(pipe)
            pipe.publish(self._channel, notice(self._node, self._concern, function))
            replies: list[Any] = pipe.execute()
        return replies[:-1]

    def fields_of(self, key: str, function: str) -> list[str]:
        """The fields ``<function>/...`` of hash ``key``."""
        prefix = f"{function}/"
        fields = (field.decode() if isinstance(field, bytes) else field for field in self.client.hkeys(key))
        return [field for field in fields if field.startswith(prefix)]


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
