"""Concurrency settings: reserved concurrency per function, and the account's limits.

``Concurrency`` validates a reservation against the account (what it leaves unreserved must not
fall below ``min_unreserved``), writes it to the settings store, then applies it to the
``Ledger`` that invocations draw on. A function's reservation goes with the function: the
registry listener ``function_changed`` drops it when the function is deleted.

Contract: called from one thread (the event loop's), like the registry.
"""

from __future__ import annotations

import logging
from typing import Any

from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, ResourceNotFound
from flare.scheduling.ledger import Ledger
from flare.store.settings import SettingsStore
from flare.store.sqlite import Database

log = logging.getLogger("flare.concurrency")

TOTAL_CODE_SIZE = 80_530_636_800
CODE_SIZE_UNZIPPED = 262_144_000
CODE_SIZE_ZIPPED = 52_428_800


def below_minimum_message(minimum: int) -> str:
    return (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
    )


def check_reservation(
    account_limit: int, min_unreserved: int, reserved: dict[str, int], function: str, value: int
) -> None:
    """Raise InvalidParameterValue unless giving ``function`` ``value`` (replacing what it has
    in ``reserved``) leaves at least ``min_unreserved`` of ``account_limit`` unreserved."""
    others = sum(amount for name, amount in reserved.items() if name != function)
    if account_limit - others - value < min_unreserved:
        raise InvalidParameterValue(below_minimum_message(min_unreserved))


def reserved_value(body: dict[str, Any]) -> int:
    """``ReservedConcurrentExecutions`` of a PutFunctionConcurrency body; InvalidParameterValue
    unless it is an integer >= 0."""
    value = body.get("ReservedConcurrentExecutions")
    if value is None:
        raise InvalidParameterValue(
            "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to "
            "satisfy constraint: Member must not be null"
        )
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at 'reservedConcurrentExecutions' failed "
            "to satisfy constraint: Member must have value greater than or equal to 0"
        )
    return value


class Concurrency:
    """Reserved concurrency per function, durable in ``store`` and live in ``ledger``."""

    def __init__(
        self, store: SettingsStore, ledger: Ledger, registry: Registry, db: Database, min_unreserved: int
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._registry = registry
        self._db = db
        self.min_unreserved = min_unreserved
        # function name => reserved concurrency (mirrors the store)
        self._reserved: dict[str, int] = {}

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

    def reserved(self, function_name: str) -> int | None:
        """The reservation of function ``function_name`` (a bare name), or None."""
        return self._reserved.get(function_name)

    def put(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PutFunctionConcurrency. Raises ResourceNotFound, InvalidParameterValue (a bad value,
        or one that leaves less than the minimum unreserved)."""
        value = reserved_value(body)
        name = self._registry.resolve(function_name, None).name
        check_reservation(self._ledger.account_limit, self.min_unreserved, self._reserved, name, value)
        self._store.put_reserved(name, value)
        self._reserved[name] = value
        self._ledger.set_reserved(name, value)
        return {"ReservedConcurrentExecutions": value}

    def get(self, function_name: str) -> dict[str, Any]:
        """GetFunctionConcurrency: ``{}`` when none is set. Raises ResourceNotFound."""
        name = self._registry.resolve(function_name, None).name
        value = self._reserved.get(name)
        return {} if value is None else {"ReservedConcurrentExecutions": value}

    def delete(self, function_name: str) -> None:
        """DeleteFunctionConcurrency (no reservation is fine). Raises ResourceNotFound."""
        self._drop(self._registry.resolve(function_name, None).name)

    def account_settings(self) -> dict[str, Any]:
        """GetAccountSettings' body."""
        rows = self._db.all_functions()
        return {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE,
                "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
                "CodeSizeZipped": CODE_SIZE_ZIPPED,
                "ConcurrentExecutions": self._ledger.account_limit,
                "UnreservedConcurrentExecutions": self._ledger.unreserved_limit,
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
        if self._reserved.pop(name, None) is not None:
            self._store.delete_reserved(name)
            self._ledger.set_reserved(name, None)

    def _exists(self, name: str) -> bool:
        try:
            self._registry.resolve(name, None)
        except ResourceNotFound:
            return False
        return True
