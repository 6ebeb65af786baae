"""Concurrency settings: reserved concurrency per function, and the account's limits.

``Concurrency`` validates a reservation against the account (what it leaves unreserved must not
fall below ``min_unreserved``), writes it to the settings store, then applies it to the
``Ledger`` that invocations draw on. A function's reservation goes with the function: the
registry listener ``function_changed`` drops it when the function is deleted.

Provisioned concurrency (``control.provisioned``) counts against the same limits: a function's
provisioned total must fit in its reservation, and the provisioned total of a function without
one comes out of the unreserved pool, which must keep ``min_unreserved``. ``provisioned`` (set by
the engine) tells this module each function's provisioned total.

Contract: called from one thread (the event loop's), like the registry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, ResourceNotFound
from flare.placement.ledger import Ledger
from flare.store.storage import FunctionStorage, SettingsStorage

log = logging.getLogger("flare.concurrency")

TOTAL_CODE_SIZE = 80_530_636_800
CODE_SIZE_UNZIPPED = 262_144_000
CODE_SIZE_ZIPPED = 52_428_800


def below_minimum_message(minimum: int) -> str:
    return (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
    )


PROVISIONED_OVER_RESERVED = (
    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
    "for function"
)


def provisioned_below_minimum_message(minimum: int) -> str:
    return (
        "Specified ConcurrentExecutions for function decreases account's "
        f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
    )


def reserved_below_provisioned_message(provisioned: int) -> str:
    return (
        "Specified ReservedConcurrentExecutions for function is less than the function's "
        f"total ProvisionedConcurrentExecutions [{provisioned}]."
    )


def check_reservation(
    account_limit: int,
    min_unreserved: int,
    reserved: dict[str, int],
    function: str,
    value: int,
    provisioned_unreserved: int = 0,
) -> None:
    """Raise InvalidParameterValue unless giving ``function`` ``value`` (replacing what it has
    in ``reserved``) leaves at least ``min_unreserved`` of ``account_limit`` unreserved, after
    ``provisioned_unreserved`` (the provisioned total of the other functions without one)."""
    others = sum(amount for name, amount in reserved.items() if name != function)
    if account_limit - others - value - provisioned_unreserved < min_unreserved:
        raise InvalidParameterValue(below_minimum_message(min_unreserved))


def check_provisioned(
    account_limit: int,
    min_unreserved: int,
    reserved: Mapping[str, int],
    provisioned: Mapping[str, int],
    function: str,
    total: int,
) -> None:
    """Raise InvalidParameterValue unless ``function`` may have ``total`` provisioned concurrency
    (over all its versions and aliases) given the reservations and the other functions'
    provisioned totals: within its reservation if it has one, else leaving at least
    ``min_unreserved`` of the unreserved pool."""
    reservation = reserved.get(function)
    if reservation is not None:
        if total > reservation:
            raise InvalidParameterValue(PROVISIONED_OVER_RESERVED)
        return
    others = sum(amount for name, amount in provisioned.items() if name != function and name not in reserved)
    if account_limit - sum(reserved.values()) - others - total < min_unreserved:
        raise InvalidParameterValue(provisioned_below_minimum_message(min_unreserved))


class Concurrency:
    """Reserved concurrency per function, durable in ``store`` and live in ``ledger``."""

    def __init__(
        self,
        store: SettingsStorage,
        ledger: Ledger,
        registry: Registry,
        db: FunctionStorage,
        min_unreserved: int,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._registry = registry
        self._db = db
        self.min_unreserved = min_unreserved
        # function name => reserved concurrency (mirrors the store)
        self._reserved: dict[str, int] = {}
        # function name => provisioned concurrency over all its versions and aliases
        self.provisioned: Callable[[], Mapping[str, int]] = dict

    def __repr__(self) -> str:
        return f"<Concurrency reserved={len(self._reserved)} {self._ledger!r}>"

    def load(self) -> None:
        """Apply the stored reservations to the ledger; drop those of functions that no longer
        exist. Call once at start, after ``Registry.load``."""
        for name, value in self._store.reserved().items():
            if not self._exists(name):
                self._store.delete_reserved(name)
                continue
            self._reserved[name] = value
            self._ledger.set_reserved(name, value)
        unreserved = self._ledger.account_limit - sum(self._reserved.values())
        if unreserved < self.min_unreserved:
            log.warning(
                "reservations leave %d of %d unreserved, below the minimum %d",
                unreserved,
                self._ledger.account_limit,
                self.min_unreserved,
            )

    def sync(self) -> None:
        """Another node changed reservations: take the stored ones as they are now (the ledger
        told of each that changed)."""
        stored = self._store.reserved()
        for name in [name for name in self._reserved if name not in stored]:
            del self._reserved[name]
            self._ledger.set_reserved(name, None)
        for name, value in stored.items():
            if self._reserved.get(name) != value:
                self._reserved[name] = value
                self._ledger.set_reserved(name, value)

    def reserved(self, function_name: str) -> int | None:
        """The reservation of function ``function_name`` (a bare name), or None."""
        return self._reserved.get(function_name)

    def put(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PutFunctionConcurrency. Raises ResourceNotFound, InvalidParameterValue (a bad value,
        or one that leaves less than the minimum unreserved)."""
        value: int = body["ReservedConcurrentExecutions"]  # required, >= 0: the model's
        name = self._registry.resolve(function_name, None).name
        provisioned = self.provisioned()
        if value < provisioned.get(name, 0):
            raise InvalidParameterValue(reserved_below_provisioned_message(provisioned[name]))
        check_reservation(
            self._ledger.account_limit,
            self.min_unreserved,
            self._reserved,
            name,
            value,
            self._provisioned_unreserved(provisioned, name),
        )
        self._apply(name, value)
        return {"ReservedConcurrentExecutions": value}

    def get(self, function_name: str) -> dict[str, Any]:
        """GetFunctionConcurrency: ``{}`` when none is set. Raises ResourceNotFound."""
        name = self._registry.resolve(function_name, None).name
        value = self._reserved.get(name)
        return {} if value is None else {"ReservedConcurrentExecutions": value}

    def delete(self, function_name: str) -> None:
        """DeleteFunctionConcurrency (no reservation is fine). Raises ResourceNotFound."""
        self._drop(self._registry.resolve(function_name, None).name)

    def check_provisioned(self, function_name: str, total: int) -> None:
        """Raise InvalidParameterValue unless function ``function_name`` (a bare name) may have
        ``total`` provisioned concurrency over all its versions and aliases."""
        check_provisioned(
            self._ledger.account_limit,
            self.min_unreserved,
            self._reserved,
            self.provisioned(),
            function_name,
            total,
        )

    def _provisioned_unreserved(self, provisioned: Mapping[str, int], but: str | None = None) -> int:
        """Provisioned concurrency of functions without a reservation (other than ``but``)."""
        return sum(n for name, n in provisioned.items() if name != but and name not in self._reserved)

    def account_settings(self) -> dict[str, Any]:
        """GetAccountSettings' body."""
        rows = self._db.all_functions()
        return {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE,
                "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
                "CodeSizeZipped": CODE_SIZE_ZIPPED,
                "ConcurrentExecutions": self._ledger.account_limit,
                "UnreservedConcurrentExecutions": max(
                    0, self._ledger.unreserved_limit - self._provisioned_unreserved(self.provisioned())
                ),
            },
            "AccountUsage": {
                "TotalCodeSize": sum(int(row.config.get("CodeSize", 0)) for row in rows),
                "FunctionCount": len({row.name for row in rows}),
            },
        }

    def function_changed(self, name: str) -> None:
        """Registry listener: a deleted function loses its reservation and scaling bucket."""
        if not self._exists(name):
            self._drop(name)
            self._ledger.forget(name)

    def _drop(self, name: str) -> None:
        if name in self._reserved:
            self._apply(name, None)

    def _apply(self, name: str, value: int | None) -> None:
        """Give ``name`` the reservation ``value`` (None: none) in the store, then the ledger
        (on a cluster, Redis's, which every node's grants read), then here. If the ledger
        refuses, the store is put back and the error raised: nothing anywhere changed, so a
        retry starts from where it was (before, the store and this node's cache had the change
        and Redis had not: a failed delete's retry found nothing left to delete)."""
        before = self._reserved.get(name)
        self._store_reserved(name, value)
        try:
            self._ledger.set_reserved(name, value)
        except BaseException:
            self._store_reserved(name, before)
            raise
        if value is None:
            self._reserved.pop(name, None)
        else:
            self._reserved[name] = value

    def _store_reserved(self, name: str, value: int | None) -> None:
        if value is None:
            self._store.delete_reserved(name)
        else:
            self._store.put_reserved(name, value)

    def _exists(self, name: str) -> bool:
        try:
            self._registry.resolve(name, None)
        except ResourceNotFound:
            return False
        return True
