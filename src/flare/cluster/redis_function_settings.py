"""The recursion and runtime management configs of one scope's functions, on the cluster's
Redis (a ``FunctionSettingsStorage``).

Two hashes: ``flare:{<scope>}:recursion`` (function => ``Terminate`` | ``Allow``) and
``flare:{<scope>}:runtime-management`` (``<function>/<version>`` => the row as JSON). Every
write carries its change notice (concern ``function_settings``); a node that hears it reads the
scope's settings back.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from flare.cluster.change_notice import NoticedWrites, text
from flare.cluster.link import ClusterLink
from flare.scope import Scope
from flare.store.function_settings import RuntimeManagementRow

CONCERN = "function_settings"


class RedisFunctionSettingsStore:
    """``scope``'s function settings in the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope) -> None:
        self._recursion = link.scoped(scope, "recursion")
        self._runtime = link.scoped(scope, "runtime-management")
        self._writes = NoticedWrites(link, scope, CONCERN)

    def __repr__(self) -> str:
        return f"<RedisFunctionSettingsStore {self._recursion}>"

    def recursion(self) -> dict[str, str]:
        found: dict[Any, Any] = self._writes.client.hgetall(self._recursion)
        return {text(name): text(loop) for name, loop in found.items()}

    def put_recursion(self, name: str, recursive_loop: str) -> None:
        self._writes(name, lambda pipe: pipe.hset(self._recursion, name, recursive_loop))

    def runtime_management(self) -> list[RuntimeManagementRow]:
        found: dict[Any, Any] = self._writes.client.hgetall(self._runtime)
        return [RuntimeManagementRow(**json.loads(value)) for value in found.values()]

    def put_runtime_management(self, row: RuntimeManagementRow) -> None:
        value = json.dumps(dataclasses.asdict(row))
        self._writes(row.name, lambda pipe: pipe.hset(self._runtime, f"{row.name}/{row.version}", value))

    def delete_version(self, name: str, version: str) -> None:
        self._writes(name, lambda pipe: pipe.hdel(self._runtime, f"{name}/{version}"))

    def delete_function(self, name: str) -> None:
        fields = self._writes.fields_of(self._runtime, name)

        def delete(pipe: Any) -> None:
            pipe.hdel(self._recursion, name)
            if fields:
                pipe.hdel(self._runtime, *fields)

        self._writes(name, delete)
