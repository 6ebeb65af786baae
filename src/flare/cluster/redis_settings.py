"""Reserved and provisioned concurrency settings of one scope's functions, on the cluster's
Redis (a ``SettingsStorage``).

``flare:{<scope>}:reserved-concurrency`` (function => ReservedConcurrentExecutions) and
``flare:{<scope>}:provisioned-configs`` (``<function>/<qualifier>`` => the config as JSON).
Every write carries its change notice (concern ``settings``); a node that hears it reads both
back (``Concurrency.sync``, ``ProvisionedConcurrency.sync``): GetFunctionConcurrency and
GetProvisionedConcurrencyConfig answer the same on every node, and each node provisions what
the configs ask of it. Enforcing a reservation across nodes is the shared ledger's
(``cluster/shared_ledger.py``, which keeps its own copy of the reservations).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from flare.cluster.change_notice import NoticedWrites, text
from flare.cluster.link import ClusterLink
from flare.scope import Scope
from flare.store.settings import ProvisionedRow

CONCERN = "settings"


class RedisSettingsStore:
    """``scope``'s concurrency settings in the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope) -> None:
        self._reserved = link.scoped(scope, "reserved-concurrency")
        self._provisioned = link.scoped(scope, "provisioned-configs")
        self._writes = NoticedWrites(link, scope, CONCERN)

    def __repr__(self) -> str:
        return f"<RedisSettingsStore {self._reserved}>"

    def reserved(self) -> dict[str, int]:
        found: dict[Any, Any] = self._writes.client.hgetall(self._reserved)
        return {text(name): int(value) for name, value in found.items()}

    def put_reserved(self, name: str, reserved: int) -> None:
        self._writes(name, lambda pipe: pipe.hset(self._reserved, name, reserved))

    def delete_reserved(self, name: str) -> bool:
        (deleted,) = self._writes(name, lambda pipe: pipe.hdel(self._reserved, name))
        return bool(deleted)

    def provisioned(self) -> list[ProvisionedRow]:
        """Every provisioned concurrency config, by name then qualifier."""
        found: dict[Any, Any] = self._writes.client.hgetall(self._provisioned)
        rows = [ProvisionedRow(**json.loads(value)) for value in found.values()]
        return sorted(rows, key=lambda row: (row.name, row.qualifier))

    def put_provisioned(self, row: ProvisionedRow) -> None:
        value = json.dumps(dataclasses.asdict(row))
        self._writes(
            row.name, lambda pipe: pipe.hset(self._provisioned, f"{row.name}/{row.qualifier}", value)
        )

    def delete_provisioned(self, name: str, qualifier: str) -> bool:
        (deleted,) = self._writes(name, lambda pipe: pipe.hdel(self._provisioned, f"{name}/{qualifier}"))
        return bool(deleted)
