"""Provisioned concurrency configs: validation, persistence, and what the provisioner should hold.

A config belongs to one qualifier of a function, a published version or an alias (never
``$LATEST``), and asks for ``requested`` initialised environments. Configs are durable in the
a ``SettingsStorage`` and cached::

    _configs   (name, qualifier) => ProvisionedRow

A config's *target* is the version it names, or the primary version its alias points at.
``_apply`` sums the configs per target version and hands the totals to the ``Provisioner``; it
runs after every change, on every read, and every ``RECONCILE_S`` of the clock, because aliases
move (and go) without telling anyone. A config whose qualifier no longer exists is dropped.

A tenant-isolated function cannot have a config (``tenancy.Feature.PROVISIONED_CONCURRENCY``).

Limits: a function's provisioned total (over all its configs) must fit in its reservation, or,
without one, leave the unreserved pool at least its minimum (``Concurrency.check_provisioned``).
A version and an alias pointing at it cannot both have a config.

Contract: called from the event loop's thread, like the registry.
"""

from __future__ import annotations

import logging
from typing import Any

from flare.clock import Clock, TimerHandle
from flare.control import page, tenancy
from flare.control.arns import parse_function_name
from flare.control.concurrency import Concurrency
from flare.control.model import LATEST, FunctionVersion, VersionKey
from flare.control.registry import Registry, format_last_modified
from flare.errors import (
    InvalidParameterValue,
    ProvisionedConcurrencyConfigNotFound,
    ResourceConflict,
    ResourceNotFound,
)
from flare.placement.prewarm import Provisioner, Status, status
from flare.store.settings import ProvisionedRow
from flare.store.storage import SettingsStorage

log = logging.getLogger("flare.provisioned")

RECONCILE_S = 5.0
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
NOT_FOUND = "No Provisioned Concurrency Config found for this function"


def published_qualifier(qualifier: str | None) -> str:
    """``qualifier`` when it may carry a config (a version number or an alias). The model
    requires one; a call without it never gets past the edge."""
    assert qualifier is not None
    if qualifier == LATEST:
        raise InvalidParameterValue(UNPUBLISHED)
    return qualifier


def is_version(qualifier: str) -> bool:
    return qualifier.isdigit()


class ProvisionedConcurrency:
    """Provisioned concurrency configs (see the module docstring)."""

    def __init__(
        self,
        store: SettingsStorage,
        registry: Registry,
        provisioner: Provisioner,
        concurrency: Concurrency,
        clock: Clock,
    ) -> None:
        self._store = store
        self._registry = registry
        self._provisioner = provisioner
        self._concurrency = concurrency
        self._clock = clock
        # (function name, qualifier) => config (mirrors the store)
        self._configs: dict[tuple[str, str], ProvisionedRow] = {}
        self._timer: TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<ProvisionedConcurrency configs={len(self._configs)} {self._provisioner!r}>"

    # -- life -----------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the stored configs and start provisioning them. Call once at start, after
        ``Registry.load`` and ``Concurrency.load``, from inside the event loop."""
        for row in self._store.provisioned():
            self._configs[(row.name, row.qualifier)] = row
        self._apply()

    def sync(self) -> None:
        """Another node changed the configs: take the stored ones as they are now and apply
        them (this node starts or stops its environments accordingly)."""
        self._configs = {(row.name, row.qualifier): row for row in self._store.provisioned()}
        self._apply()

    def start(self) -> None:
        """Re-apply the configs every ``RECONCILE_S`` (aliases move without notice)."""
        self._timer = self._clock.call_later(RECONCILE_S, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._apply()
        self.start()

    # -- API ------------------------------------------------------------------------------------

    def put(self, function_name: str, qualifier: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """PutProvisionedConcurrencyConfig: the config as answered (202, ``IN_PROGRESS``).

        Raises InvalidParameterValue (a bad value, ``$LATEST``, no qualifier, more than the
        limits allow), ResourceNotFound (function, version or alias), ResourceConflict (the
        version and an alias pointing at it would both have a config).
        """
        value: int = body["ProvisionedConcurrentExecutions"]  # required, >= 1: the model's
        name, parsed = parse_function_name(function_name, qualifier)
        parsed = published_qualifier(parsed)
        self._registry.get_configuration(name, parsed)
        target = self._target(name, parsed)
        if target is None:  # an alias of $LATEST
            raise InvalidParameterValue(UNPUBLISHED)
        if target.snap_start:
            raise InvalidParameterValue(
                "Provisioned Concurrency cannot be configured on a version with SnapStart enabled."
            )
        tenancy.refuse(tenancy.Feature.PROVISIONED_CONCURRENCY, target.tenant_isolated)
        self._check_conflict(name, parsed, target)
        others = sum(row.requested for (n, q), row in self._configs.items() if n == name and q != parsed)
        self._concurrency.check_provisioned(name, others + value)
        row = ProvisionedRow(name, parsed, value, format_last_modified(self._clock.wall()))
        self._store.put_provisioned(row)
        self._configs[(name, parsed)] = row
        self._apply(retry=target.key)
        answer = self._body(row, target)
        answer["Status"] = Status.IN_PROGRESS.value
        answer.pop("StatusReason", None)
        return answer

    def get(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        """GetProvisionedConcurrencyConfig. Raises ProvisionedConcurrencyConfigNotFound,
        ResourceNotFound, InvalidParameterValue."""
        row, target = self._existing(function_name, qualifier)
        return self._body(row, target)

    def delete(self, function_name: str, qualifier: str | None) -> None:
        """DeleteProvisionedConcurrencyConfig: its environments are shut down. Raises
        ProvisionedConcurrencyConfigNotFound, ResourceNotFound, InvalidParameterValue."""
        row, _ = self._existing(function_name, qualifier)
        self._drop(row.name, row.qualifier)
        self._apply()

    def list(self, function_name: str, marker: str | None, max_items: int | None) -> dict[str, Any]:
        """ListProvisionedConcurrencyConfigs of one function, by qualifier; ``marker`` is the
        last qualifier of the previous page. Raises ResourceNotFound, InvalidParameterValue."""
        name = self._registry.resolve(parse_function_name(function_name, None)[0], None).name
        limit = page.limit(max_items)
        self._apply()
        rows = sorted(
            (row for (n, q), row in self._configs.items() if n == name and (marker is None or q > marker)),
            key=lambda row: row.qualifier,
        )
        items = []
        for row in rows[:limit]:
            target = self._target(name, row.qualifier)
            body = self._body(row, target)
            body["FunctionArn"] = self._arn(name, row.qualifier)
            items.append(body)
        answer: dict[str, Any] = {"ProvisionedConcurrencyConfigs": items}
        if len(rows) > limit:
            answer["NextMarker"] = rows[limit - 1].qualifier
        return answer

    def totals(self) -> dict[str, int]:
        """Function name => provisioned concurrency over all its configs (requested)."""
        totals: dict[str, int] = {}
        for (name, _), row in self._configs.items():
            totals[name] = totals.get(name, 0) + row.requested
        return totals

    def function_changed(self, name: str, version: str | None) -> None:
        """Registry version listener: a deleted function or version loses its configs (and,
        through ``_apply``, its environments). Register it before the pool retires anything."""
        if version is None:
            for key in [key for key in self._configs if key[0] == name]:
                self._drop(*key)
        elif version != LATEST and (name, version) in self._configs and self._target(name, version) is None:
            self._drop(name, version)
        self._apply()

    # -- internals ------------------------------------------------------------------------------

    def _existing(self, function_name: str, qualifier: str | None) -> tuple[ProvisionedRow, FunctionVersion]:
        name, parsed = parse_function_name(function_name, qualifier)
        parsed = published_qualifier(parsed)
        self._registry.get_configuration(name, parsed)
        self._apply()
        row = self._configs.get((name, parsed))
        target = self._target(name, parsed)
        if row is None or target is None:
            raise ProvisionedConcurrencyConfigNotFound(NOT_FOUND)
        return row, target

    def _target(self, name: str, qualifier: str) -> FunctionVersion | None:
        """The version a config on ``name:qualifier`` provisions, or None if it is gone."""
        try:
            if is_version(qualifier):
                version = qualifier
            else:
                version = str(self._registry.get_alias(name, qualifier)["FunctionVersion"])
            found = self._registry.resolve(name, version)
        except (ResourceNotFound, InvalidParameterValue):
            return None
        return found if found.version == version and version != LATEST else None

    def _check_conflict(self, name: str, qualifier: str, target: FunctionVersion) -> None:
        for (other_name, other), _ in self._configs.items():
            if other_name != name or other == qualifier or is_version(other) == is_version(qualifier):
                continue
            other_target = self._target(name, other)
            if other_target is not None and other_target.key == target.key:
                alias = qualifier if not is_version(qualifier) else other
                raise ResourceConflict(
                    f"Alias {alias} and the version it points to ({target.version}) cannot both have "
                    "a Provisioned Concurrency Config"
                )

    def _apply(self, retry: VersionKey | None = None) -> None:
        """Hand the provisioner each target version's total; drop configs whose qualifier is gone."""
        wanted: dict[VersionKey, tuple[FunctionVersion, int]] = {}
        for (name, qualifier), row in list(self._configs.items()):
            target = self._target(name, qualifier)
            if target is None:
                log.info("dropping the provisioned concurrency config of %s:%s (gone)", name, qualifier)
                self._drop(name, qualifier)
                continue
            _, count = wanted.get(target.key, (target, 0))
            wanted[target.key] = (target, count + row.requested)
        if retry is not None and retry in wanted:
            self._provisioner.set(*wanted[retry], retry=True)
        self._provisioner.reconcile(wanted)

    def _body(self, row: ProvisionedRow, target: FunctionVersion | None) -> dict[str, Any]:
        allocated = available = 0
        failure = None
        if target is not None:
            allocated, available = self._provisioner.counts(target)
            failure = self._provisioner.failure(target)
        allocated, available = min(allocated, row.requested), min(available, row.requested)
        body: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": row.requested,
            "AvailableProvisionedConcurrentExecutions": available,
            "AllocatedProvisionedConcurrentExecutions": allocated,
            "Status": status(row.requested, available, failure).value,
            "LastModified": row.last_modified,
        }
        if failure is not None:
            body["StatusReason"] = failure
        return body

    def _drop(self, name: str, qualifier: str) -> None:
        if self._configs.pop((name, qualifier), None) is not None:
            self._store.delete_provisioned(name, qualifier)

    def _arn(self, name: str, qualifier: str) -> str:
        config = self._registry.get_configuration(name, None)
        arn = str(config["FunctionArn"])
        return f"{arn}:{qualifier}"
