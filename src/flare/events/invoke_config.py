"""FunctionEventInvokeConfig: the retry and destination settings of asynchronous invocation.

One config per function and qualifier (``$LATEST``, a version number or an alias), durable in
an ``InvokeConfigStorage``. ``put`` replaces the whole config (fields left out are removed),
``update`` merges into it. ``target(name, qualifier)`` is what the async queue reads for each event: the
config of exactly the qualifier the event was invoked with (``$LATEST`` when unqualified),
defaults when there is none.

Contract: called from the event loop's thread, like the registry.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from flare.clock import Clock
from flare.control import page
from flare.control.arns import parse_function_name
from flare.control.model import LATEST
from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, ResourceNotFound
from flare.events.retry import DEFAULT_MAX_EVENT_AGE_S, DEFAULT_MAX_RETRY_ATTEMPTS
from flare.store.storage import InvokeConfigStorage

DESTINATION_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*):(sqs|sns|lambda|events|s3):.+$")
_RANGED = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")
_FIELDS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


@dataclass(frozen=True)
class Target:
    """What an async event of one function and qualifier is handled with."""

    max_retry_attempts: int = DEFAULT_MAX_RETRY_ATTEMPTS
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    on_success: str | None = None
    on_failure: str | None = None


def _destinations(value: object) -> dict[str, dict[str, str]]:
    if value is None:
        return {"OnSuccess": {}, "OnFailure": {}}
    assert isinstance(value, dict)  # the model's type, checked at the edge
    found: dict[str, dict[str, str]] = {}
    for key in ("OnSuccess", "OnFailure"):
        arn = (value.get(key) or {}).get("Destination")
        if arn is None:
            found[key] = {}
            continue
        if not DESTINATION_ARN.match(arn):
            raise InvalidParameterValue(f"The destination ARN {arn} is invalid.")
        if key == "OnSuccess" and arn.split(":")[2] == "s3":
            raise InvalidParameterValue("S3 buckets are supported only as OnFailure destinations.")
        found[key] = {"Destination": arn}
    return found


def normalise(body: dict[str, Any]) -> dict[str, Any]:
    """The stored fields of a Put or Update body (only those given; their types and ranges are
    botocore's model's, checked at the edge). Raises InvalidParameterValue for a destination."""
    config: dict[str, Any] = {key: body[key] for key in _RANGED if key in body}
    if "DestinationConfig" in body:
        config["DestinationConfig"] = _destinations(body["DestinationConfig"])
    return config


def target_of(config: dict[str, Any] | None) -> Target:
    if config is None:
        return Target()
    destinations = config.get("DestinationConfig") or {}
    return Target(
        config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRY_ATTEMPTS),
        config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S),
        (destinations.get("OnSuccess") or {}).get("Destination"),
        (destinations.get("OnFailure") or {}).get("Destination"),
    )


class InvokeConfigs:
    """Event-invoke configs by (function name, qualifier), mirrored from ``store``."""

    def __init__(self, store: InvokeConfigStorage, registry: Registry, clock: Clock) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        # (function name, qualifier) => config as Get answers it, minus FunctionArn
        self._configs: dict[tuple[str, str], dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<InvokeConfigs {len(self._configs)}>"

    def load(self) -> None:
        """Read the stored configs; drop those of functions or versions that are gone. Call
        once at start, after ``Registry.load``."""
        self._configs = self._store.invoke_configs()
        for name, qualifier in list(self._configs):
            self.function_changed(name, qualifier)

    def target(self, name: str, qualifier: str | None) -> Target:
        """The settings events of ``name`` invoked with ``qualifier`` are handled with."""
        return target_of(self._configs.get((name, qualifier or LATEST)))

    def put(self, function_name: str, qualifier: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """PutFunctionEventInvokeConfig: replace. Raises ResourceNotFound, InvalidParameterValue."""
        key = self._key(function_name, qualifier)
        config = normalise(body)
        config.setdefault("DestinationConfig", {"OnSuccess": {}, "OnFailure": {}})
        return self._save(key, config)

    def update(self, function_name: str, qualifier: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateFunctionEventInvokeConfig: merge into the existing config (or a new one)."""
        key = self._key(function_name, qualifier)
        config = {k: v for k, v in self._configs.get(key, {}).items() if k in _FIELDS}
        changes = normalise(body)
        if "DestinationConfig" in changes and "DestinationConfig" in config:
            given = body["DestinationConfig"] or {}
            merged = dict(config["DestinationConfig"])
            for side in ("OnSuccess", "OnFailure"):
                if side in given:
                    merged[side] = changes["DestinationConfig"][side]
            changes["DestinationConfig"] = merged
        config.update(changes)
        config.setdefault("DestinationConfig", {"OnSuccess": {}, "OnFailure": {}})
        return self._save(key, config)

    def get(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        """GetFunctionEventInvokeConfig. Raises ResourceNotFound (function, or no config)."""
        key = self._key(function_name, qualifier)
        config = self._configs.get(key)
        if config is None:
            raise ResourceNotFound(f"The function {self._arn(key)} doesn't have an EventInvokeConfig")
        return self._shown(key, config)

    def delete(self, function_name: str, qualifier: str | None) -> None:
        """DeleteFunctionEventInvokeConfig. Raises ResourceNotFound as ``get``."""
        key = self._key(function_name, qualifier)
        if key not in self._configs:
            raise ResourceNotFound(f"The function {self._arn(key)} doesn't have an EventInvokeConfig")
        self._store.delete_invoke_configs(*key)
        del self._configs[key]

    def list(self, function_name: str, marker: str | None, max_items: int | None) -> dict[str, Any]:
        """ListFunctionEventInvokeConfigs: by qualifier ($LATEST, versions, aliases), 1-50 a page."""
        name = self._registry.resolve(parse_function_name(function_name, None)[0], None).name
        limit = page.limit(max_items)
        keys = sorted((key for key in self._configs if key[0] == name), key=lambda k: _qualifier_order(k[1]))
        start = 0
        if marker:
            try:
                start = int(marker)
            except ValueError:
                raise InvalidParameterValue(f"Invalid marker: {marker}") from None
        shown = keys[start : start + limit]
        body: dict[str, Any] = {
            "FunctionEventInvokeConfigs": [self._shown(key, self._configs[key]) for key in shown]
        }
        if start + limit < len(keys):
            body["NextMarker"] = str(start + limit)
        return body

    def function_changed(self, name: str, version: str | None = None) -> None:
        """Registry listener: drop the configs of what no longer resolves."""
        for key in [k for k in self._configs if k[0] == name and (version is None or k[1] == version)]:
            try:
                self._registry.resolve(key[0], key[1])
            except ResourceNotFound:
                self._store.delete_invoke_configs(*key)
                del self._configs[key]

    def _key(self, function_name: str, qualifier: str | None) -> tuple[str, str]:
        name, parsed = parse_function_name(function_name, qualifier)
        self._registry.resolve(name, parsed)
        return name, parsed or LATEST

    def _arn(self, key: tuple[str, str]) -> str:
        return f"{self._registry.resolve(key[0], None).function_arn}:{key[1]}"

    def _save(self, key: tuple[str, str], config: dict[str, Any]) -> dict[str, Any]:
        config["LastModified"] = round(self._clock.wall(), 3)
        self._store.put_invoke_config(key[0], key[1], config)
        self._configs[key] = config
        return self._shown(key, config)

    def _shown(self, key: tuple[str, str], config: dict[str, Any]) -> dict[str, Any]:
        return {"FunctionArn": self._arn(key), **copy.deepcopy(config)}


def _qualifier_order(qualifier: str) -> tuple[int, int, str]:
    if qualifier == LATEST:
        return (0, 0, "")
    if qualifier.isdigit():
        return (1, int(qualifier), "")
    return (2, 0, qualifier)
