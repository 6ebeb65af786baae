"""Recursion configs and runtime management configs: settings Flare stores and answers.

**Recursion** (Put/GetFunctionRecursionConfig): ``RecursiveLoop`` is ``Terminate`` (the default)
or ``Allow``, per function. On AWS, ``Terminate`` stops a chain of invocations after about 16
loops through SQS, SNS, S3 or another function, detected from tracing headers Lambda adds. Flare
keeps the setting but detects no loops: a function that re-invokes itself through Flare's queue
runs until it stops.

**Runtime management** (Put/GetRuntimeManagementConfig): per version (``$LATEST`` or a published
number), ``UpdateRuntimeOn`` is ``Auto`` (the default), ``FunctionUpdate`` or ``Manual`` with a
``RuntimeVersionArn``. A new version starts with ``$LATEST``'s setting. Flare runs a runtime on
the interpreter the host has; the setting changes nothing about which one.

Both go with their function (and a version's with the version): ``function_changed`` is a
registry version listener, ``version_published`` a publish listener. Contract: called from one
thread (the event loop's), like the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flare.control.arns import function_arn, parse_function_name
from flare.control.model import LATEST, FunctionVersion
from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, ResourceNotFound
from flare.store.function_settings import RuntimeManagementRow
from flare.store.storage import FunctionSettingsStorage

RECURSIVE_LOOPS = ("Terminate", "Allow")
UPDATE_MODES = ("Auto", "Manual", "FunctionUpdate")
MANUAL = "Manual"
ARN_REQUIRED = "RuntimeVersionArn is required when UpdateRuntimeOn is Manual."
ARN_ONLY_FOR_MANUAL = "RuntimeVersionArn can only be set when UpdateRuntimeOn is Manual."


def _enum(value: object, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    return str(value)


class FunctionSettings:
    """Every function's recursion config and every version's runtime management config."""

    def __init__(
        self, store: FunctionSettingsStorage, registry: Registry, region: str, account_id: str
    ) -> None:
        self._store = store
        self._registry = registry
        self._region = region
        self._account_id = account_id
        self._recursion: dict[str, str] = {}
        self._runtime: dict[tuple[str, str], RuntimeManagementRow] = {}

    def __repr__(self) -> str:
        return f"<FunctionSettings recursion={len(self._recursion)} runtime={len(self._runtime)}>"

    def load(self) -> None:
        """Fill the caches from the store. Call once at start."""
        self._recursion = self._store.recursion()
        self._runtime = {(row.name, row.version): row for row in self._store.runtime_management()}

    # -- recursion --------------------------------------------------------------------------

    def get_recursion(self, function_name: str) -> dict[str, Any]:
        """GetFunctionRecursionConfig's body. Raises ResourceNotFound."""
        return {"RecursiveLoop": self._recursion.get(self._function(function_name), "Terminate")}

    def put_recursion(self, function_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PutFunctionRecursionConfig's body. Raises ResourceNotFound, InvalidParameterValue."""
        loop = _enum(body.get("RecursiveLoop"), "recursiveLoop", RECURSIVE_LOOPS)
        name = self._function(function_name)
        self._store.put_recursion(name, loop)
        self._recursion[name] = loop
        return {"RecursiveLoop": loop}

    # -- runtime management -----------------------------------------------------------------

    def get_runtime(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        """GetRuntimeManagementConfig's body. Raises ResourceNotFound, InvalidParameterValue."""
        name, version = self._version(function_name, qualifier)
        row = self._runtime.get((name, version)) or RuntimeManagementRow(name, version, "Auto", None)
        return self._answer(row, qualifier)

    def put_runtime(
        self, function_name: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PutRuntimeManagementConfig's body. ``Manual`` needs a ``RuntimeVersionArn`` of this
        region, the other modes take none. Raises ResourceNotFound, InvalidParameterValue."""
        mode = _enum(body.get("UpdateRuntimeOn"), "updateRuntimeOn", UPDATE_MODES)
        arn = body.get("RuntimeVersionArn")
        if mode == MANUAL and not arn:
            raise InvalidParameterValue(ARN_REQUIRED)
        if mode != MANUAL and arn:
            raise InvalidParameterValue(ARN_ONLY_FOR_MANUAL)
        if arn and str(arn).split(":")[3:4] != [self._region]:
            raise InvalidParameterValue(f"The runtime version {arn} is not available in {self._region}.")
        name, version = self._version(function_name, qualifier)
        row = RuntimeManagementRow(name, version, mode, str(arn) if arn else None)
        self._store.put_runtime_management(row)
        self._runtime[(name, version)] = row
        return self._answer(row, qualifier)

    # -- registry listeners -----------------------------------------------------------------

    def function_changed(self, name: str, version: str | None) -> None:
        """Version listener: drop what belonged to a deleted function or version."""
        if version is None:
            self._store.delete_function(name)
            self._recursion.pop(name, None)
            self._runtime = {key: row for key, row in self._runtime.items() if key[0] != name}
        elif version != LATEST:
            self._store.delete_version(name, version)
            self._runtime.pop((name, version), None)

    def version_published(self, version: FunctionVersion) -> None:
        """Publish listener: the new version keeps ``$LATEST``'s runtime management config."""
        latest = self._runtime.get((version.name, LATEST))
        if latest is not None:
            row = RuntimeManagementRow(
                version.name, version.version, latest.update_runtime_on, latest.runtime_version_arn
            )
            self._store.put_runtime_management(row)
            self._runtime[(version.name, version.version)] = row

    # -- internals --------------------------------------------------------------------------

    def _function(self, function_name: str) -> str:
        name, _ = parse_function_name(function_name, None)
        if not self._registry.has_function(name):
            raise ResourceNotFound(
                f"Function not found: {function_arn(self._region, self._account_id, name)}"
            )
        return name

    def _version(self, function_name: str, qualifier: str | None) -> tuple[str, str]:
        """The function and version (``$LATEST`` or a number) a runtime config belongs to."""
        name, found = self._registry.locate(function_name, qualifier)
        if found is not None and found != LATEST and not found.isdigit():
            raise InvalidParameterValue(
                f"The runtime management configuration belongs to $LATEST or a published version, not to "
                f"alias {found}."
            )
        return name, found or LATEST

    def _answer(self, row: RuntimeManagementRow, qualifier: str | None) -> dict[str, Any]:
        shown = None if qualifier is None and row.version == LATEST else row.version
        body: dict[str, Any] = {
            "UpdateRuntimeOn": row.update_runtime_on,
            "FunctionArn": function_arn(self._region, self._account_id, row.name, shown),
        }
        if row.runtime_version_arn:
            body["RuntimeVersionArn"] = row.runtime_version_arn
        return body
