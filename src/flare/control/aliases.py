"""Aliases: a name that points at one version of a function, or splits traffic between two.

An alias is kept in AWS's wire shape (``AliasConfiguration``: AliasArn, Name, FunctionVersion,
Description, RoutingConfig, RevisionId). Its ``FunctionVersion`` is the primary version; an
optional ``RoutingConfig.AdditionalVersionWeights`` of ``{"N": w}`` sends a share ``w`` of the
invocations to version ``N`` and ``1 - w`` to the primary. Both must then be published versions.

``Aliases`` holds every function's aliases, durable in the database and cached::

    _configs   name => alias => AliasConfiguration          (control-plane reads, copied out)
    _routes    (name, alias) => (primary, weights)          (the invoke hot path)

The functions above the class are pure. ``Aliases`` follows the registry's contract: one thread,
the database first, then the caches. It does not know which versions exist; the registry passes
them in.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from flare.control import page, validation
from flare.control.arns import function_arn
from flare.control.model import LATEST
from flare.errors import InvalidParameterValue, PreconditionFailed, ResourceConflict, ResourceNotFound
from flare.store.functions import AliasRow
from flare.store.storage import FunctionStorage

LATEST_ROUTING_MESSAGE = "$LATEST is not supported for an alias pointing to more than 1 version"

Weights = Mapping[str, float]
Route = tuple[str, Weights]


def check_routing(value: dict[str, Any] | None, primary: str) -> dict[str, float]:
    """The ``AdditionalVersionWeights`` of a ``RoutingConfig`` for an alias whose primary version
    is ``primary``: at most one extra published version, other than the primary, weighted
    0.0 to 1.0. ``{}`` means no routing. Does not check that the version exists. The keys'
    pattern and the weights' range are botocore's model's, checked at the edge.
    Raises InvalidParameterValue.
    """
    weights: dict[str, float] = (value or {}).get("AdditionalVersionWeights") or {}
    if len(weights) > 1:
        raise InvalidParameterValue("Number of items in AdditionalVersionWeights cannot be greater than 1")
    checked: dict[str, float] = {}
    for version, weight in weights.items():
        if primary == LATEST:
            raise InvalidParameterValue(LATEST_ROUTING_MESSAGE)
        if version == primary:
            raise InvalidParameterValue(
                f"Invalid function version {primary}. Function version {primary} is already included "
                "in routing configuration."
            )
        checked[version] = float(weight)
    return checked


def pick_version(primary: str, weights: Weights, draw: float) -> str:
    """The version one invocation of an alias runs.

    ``draw`` is uniform in [0, 1). With ``weights`` ``{"N": w}`` the answer is ``N`` when
    ``draw < w`` (so with probability ``w``; never for ``w == 0``, always for ``w == 1``), else
    ``primary``. With no weights it is always ``primary``.
    """
    for version, weight in weights.items():
        if draw < weight:
            return version
        draw -= weight
    return primary


def routes_to(config: Mapping[str, Any], version: str) -> bool:
    """Whether the alias ``config`` sends any invocation (or could, at weight 0) to ``version``."""
    weights = config.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
    return bool(config["FunctionVersion"] == version or version in weights)


def _route(config: Mapping[str, Any]) -> Route:
    weights = config.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
    return config["FunctionVersion"], dict(weights)


class Aliases:
    """Every function's aliases. See the module docstring for the caching contract."""

    def __init__(self, db: FunctionStorage, region: str, account_id: str) -> None:
        self._db = db
        self._region = region
        self._account_id = account_id
        # name => alias => AliasConfiguration; never handed out uncopied
        self._configs: dict[str, dict[str, dict[str, Any]]] = {}
        # (name, alias) => (primary version, additional version weights), read by every invoke
        self._routes: dict[tuple[str, str], Route] = {}

    def __repr__(self) -> str:
        return f"<Aliases {len(self._routes)}>"

    def load(self) -> None:
        """Fill the caches from the database."""
        self._configs.clear()
        self._routes.clear()
        for row in self._db.all_aliases():
            self._cache(row.name, row.config)

    def load_function(self, name: str) -> None:
        """Read ``name``'s aliases back from the database (another node changed them)."""
        self.drop_function(name)
        for row in self._db.function_aliases(name):
            self._cache(row.name, row.config)

    def route(self, name: str, alias: str) -> Route | None:
        """The primary version and weights of alias ``alias`` of ``name``, or None."""
        return self._routes.get((name, alias))

    def version_of(self, name: str, alias: str) -> str | None:
        """The primary version alias ``alias`` points at, or None when there is no such alias."""
        route = self._routes.get((name, alias))
        return None if route is None else route[0]

    def referencing(self, name: str, version: str) -> list[str]:
        """Names of ``name``'s aliases that route to ``version``, sorted."""
        configs = self._configs.get(name, {})
        return sorted(alias for alias, config in configs.items() if routes_to(config, version))

    def get(self, name: str, alias: str) -> dict[str, Any]:
        """GetAlias's body. Raises ResourceNotFound."""
        return copy.deepcopy(self._existing(name, alias))

    def create(self, name: str, body: dict[str, Any], versions: Collection[str]) -> dict[str, Any]:
        """CreateAlias on function ``name``, whose versions are ``versions``.

        Raises InvalidParameterValue, ResourceNotFound (a version that does not exist),
        ResourceConflict (the alias exists), StaleRevision (a shared store's alias moved).
        """
        alias: str = body["Name"]  # Name and FunctionVersion: required by the model
        primary = self._version(name, body["FunctionVersion"], versions)
        if alias in self._configs.get(name, {}):
            raise ResourceConflict(f"Alias already exists: {self._arn(name, alias)}")
        weights = self._weights(name, body.get("RoutingConfig"), primary, versions)
        config = self._config(name, alias, primary, body.get("Description") or "", weights)
        return self._store(name, config, expected_revision="")

    def update(
        self, name: str, alias: str, body: dict[str, Any], versions: Collection[str]
    ) -> dict[str, Any]:
        """UpdateAlias: the fields given change, the others stay; a new RevisionId either way.

        Raises ResourceNotFound, PreconditionFailed (RevisionId), InvalidParameterValue,
        StaleRevision (a shared store's alias moved since it was cached).
        """
        current = self._existing(name, alias)
        revision = body.get("RevisionId")
        if revision is not None and revision != current["RevisionId"]:
            raise PreconditionFailed(validation.REVISION_MESSAGE)
        primary = current["FunctionVersion"]
        if body.get("FunctionVersion") is not None:
            primary = self._version(name, body["FunctionVersion"], versions)
        routing = body.get("RoutingConfig")
        if routing is None:
            routing = current.get("RoutingConfig")
        weights = self._weights(name, routing, primary, versions)
        description = current["Description"]
        if body.get("Description") is not None:
            description = body["Description"]
        config = self._config(name, alias, primary, description, weights)
        return self._store(name, config, expected_revision=current["RevisionId"])

    def delete(self, name: str, alias: str) -> None:
        """DeleteAlias. Raises ResourceNotFound."""
        self._existing(name, alias)
        self._db.delete_alias(name, alias)
        del self._configs[name][alias]
        del self._routes[(name, alias)]

    def list(
        self, name: str, function_version: str | None, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        """ListAliases' body: aliases by name, only those routing to ``function_version`` if
        given; ``marker`` is the last alias name of the previous page. Raises InvalidParameterValue.
        """
        limit = page.limit(max_items)
        configs = self._configs.get(name, {})
        names = sorted(
            alias
            for alias, config in configs.items()
            if (function_version is None or routes_to(config, function_version))
            and (marker is None or alias > marker)
        )
        body: dict[str, Any] = {"Aliases": [copy.deepcopy(configs[alias]) for alias in names[:limit]]}
        if len(names) > limit:
            body["NextMarker"] = names[limit - 1]
        return body

    def drop_function(self, name: str) -> None:
        """Forget every alias of ``name`` (the caller has deleted them from the database)."""
        for alias in self._configs.pop(name, {}):
            del self._routes[(name, alias)]

    # -- internals ------------------------------------------------------------------------------

    def _arn(self, name: str, alias: str) -> str:
        return function_arn(self._region, self._account_id, name, alias)

    def _existing(self, name: str, alias: str) -> dict[str, Any]:
        config = self._configs.get(name, {}).get(alias)
        if config is None:
            raise ResourceNotFound(f"Cannot find alias arn: {self._arn(name, alias)}")
        return config

    def _version(self, name: str, version: str, versions: Collection[str]) -> str:
        if version not in versions:
            arn = function_arn(self._region, self._account_id, name, version)
            raise ResourceNotFound(f"Function not found: {arn}")
        return version

    def _weights(
        self, name: str, routing: dict[str, Any] | None, primary: str, versions: Collection[str]
    ) -> dict[str, float]:
        weights = check_routing(routing, primary)
        for version in weights:
            self._version(name, version, versions)
        return weights

    def _config(
        self, name: str, alias: str, primary: str, description: str, weights: dict[str, float]
    ) -> dict[str, Any]:
        config: dict[str, Any] = {
            "AliasArn": self._arn(name, alias),
            "Name": alias,
            "FunctionVersion": primary,
            "Description": description,
            "RevisionId": str(uuid.uuid4()),
        }
        if weights:
            config["RoutingConfig"] = {"AdditionalVersionWeights": weights}
        return config

    def _store(self, name: str, config: dict[str, Any], expected_revision: str) -> dict[str, Any]:
        """Store ``config`` over the alias whose RevisionId this cache holds ('' : none), then
        cache it. Raises StaleRevision (nothing changed) when a shared store's alias moved."""
        self._db.put_alias(AliasRow(name, config["Name"], config), expected_revision)
        self._cache(name, config)
        return copy.deepcopy(config)

    def _cache(self, name: str, config: dict[str, Any]) -> None:
        self._configs.setdefault(name, {})[config["Name"]] = config
        self._routes[(name, config["Name"])] = _route(config)
