"""Function URL configs: the five operations, their checks and answers, and the lookup by URL id.

A function has at most one URL for itself (it invokes ``$LATEST``) and one per alias; published
versions cannot have one. Each URL has a random 32-character id ([a-z0-9], as AWS makes them);
its address is ``http://<url-id>.lambda-url.<region>.localhost:<port>/``: curl and browsers
resolve ``*.localhost`` to the loopback themselves, and ``http://127.0.0.1:<port>/`` with that
``Host`` header reaches it from any client. Configs are durable (a ``UrlStorage``) and cached::

    _rows   (function, alias or None) => UrlRow
    _ids    url_id => UrlRow

A URL goes with what it invokes: with its function (``function_changed``, a registry version
listener), and with its alias, which DeleteAlias does not announce: a config whose alias is gone
is dropped when next read (an operation on its function, or a request to its URL).

Answers follow AWS's: CreateFunctionUrlConfig omits ``InvokeMode`` unless it was given, Update
shows it once one was ever given, Get and List always (``BUFFERED`` by default); ``Cors`` only
when configured. Contract: called from the event loop's thread, like the registry.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import string
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from flare.clock import Clock
from flare.control import page, tenancy
from flare.control.arns import function_arn, parse_function_name
from flare.control.model import FunctionVersion
from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from flare.store.storage import UrlStorage
from flare.store.urls import UrlRow

URL_ID_ALPHABET = string.ascii_lowercase + string.digits
URL_ID_LENGTH = 32
NO_FUNCTION = "Function does not exist"
NO_RESOURCE = "The resource you requested does not exist."


def new_url_id() -> str:
    return "".join(secrets.choice(URL_ID_ALPHABET) for _ in range(URL_ID_LENGTH))


def timestamp(epoch_s: float) -> str:
    """A URL config's time as AWS writes it: ``2023-06-08T13:20:18.244654Z``."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class UrlTarget:
    """What a request to a URL invokes: its config, the version, and the ARN as invoked."""

    config: UrlRow
    version: FunctionVersion
    invoked_arn: str


class FunctionUrls:
    def __init__(
        self, store: UrlStorage, registry: Registry, clock: Clock, region: str, account_id: str, port: int
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._region = region
        self._account_id = account_id
        self._port = port
        self._rows: dict[tuple[str, str | None], UrlRow] = {}
        self._ids: dict[str, UrlRow] = {}

    def __repr__(self) -> str:
        return f"<FunctionUrls {len(self._rows)}>"

    def load(self) -> None:
        """Fill the cache from the store; call once at start, after the registry's ``load``."""
        self._rows.clear()
        self._ids.clear()
        for row in self._store.all():
            self._cache(row)

    def url(self, row: UrlRow) -> str:
        return f"http://{row.url_id}.lambda-url.{self._region}.localhost:{self._port}/"

    # ---- the operations ---------------------------------------------------------------------

    def create(self, function_name: str, qualifier: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """CreateFunctionUrlConfig. Raises ResourceNotFound (function or alias),
        ResourceConflict (the URL exists), InvalidParameterValue."""
        name, alias = self._target(function_name, qualifier, NO_FUNCTION)
        tenancy.check_function_url(self._registry.get_configuration(name, alias))
        existing = self._rows.get((name, alias))
        if existing is not None:
            raise ResourceConflict(
                f"Failed to create function url config for [functionArn = {self._arn(existing)}]. "
                "Error message:  FunctionUrlConfig exists for this Lambda function"
            )
        url_id = new_url_id()
        while url_id in self._ids:
            url_id = new_url_id()
        now = timestamp(self._clock.wall())
        cors = body.get("Cors")
        row = UrlRow(name, alias, url_id, body.get("AuthType", ""), cors, body.get("InvokeMode"), now, now)
        self._store.put(row)
        self._cache(row)
        return self._answer(row, modified=False, default_mode=False)

    def get(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        """GetFunctionUrlConfig. Raises ResourceNotFound, InvalidParameterValue."""
        return self._answer(self._existing(function_name, qualifier, NO_RESOURCE), True, True)

    def update(self, function_name: str, qualifier: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateFunctionUrlConfig: only what is given changes. Raises ResourceNotFound,
        InvalidParameterValue."""
        name, alias = self._target(function_name, qualifier, NO_FUNCTION)
        row = self._rows.get((name, alias))
        if row is None:
            raise ResourceNotFound(NO_RESOURCE)
        changes: dict[str, Any] = {"modified": timestamp(self._clock.wall())}
        for member, field in (("AuthType", "auth_type"), ("Cors", "cors"), ("InvokeMode", "invoke_mode")):
            if body.get(member) is not None:
                changes[field] = body[member]
        row = replace(row, **changes)
        self._store.put(row)
        self._cache(row)
        return self._answer(row, modified=True, default_mode=False)

    def delete(self, function_name: str, qualifier: str | None) -> None:
        """DeleteFunctionUrlConfig. Raises ResourceNotFound, InvalidParameterValue."""
        self._drop(self._existing(function_name, qualifier, NO_RESOURCE))

    def list(self, function_name: str, marker: str | None, max_items: int | None) -> dict[str, Any]:
        """ListFunctionUrlConfigs: the function's own URL first, then its aliases' by name, at
        most 50 a page. Raises ResourceNotFound, InvalidParameterValue."""
        name, _ = parse_function_name(function_name, None)
        if not self._exists(name, None):
            raise ResourceNotFound(NO_FUNCTION)
        self._prune(name)
        limit = page.limit(max_items)
        keys = sorted(alias or "" for function, alias in self._rows if function == name)
        if marker:
            after = _decode_marker(marker)
            keys = [key for key in keys if key > after]
        shown = keys[:limit]
        configs = [self._answer(self._rows[(name, key or None)], True, True) for key in shown]
        answer: dict[str, Any] = {"FunctionUrlConfigs": configs}
        if len(keys) > limit:
            answer["NextMarker"] = base64.urlsafe_b64encode(json.dumps(shown[-1]).encode()).decode()
        return answer

    # ---- requests to a URL ------------------------------------------------------------------

    def resolve(self, url_id: str) -> UrlTarget | None:
        """What a request to URL ``url_id`` invokes now, or None when there is no such URL (any
        more). Raises InvalidParameterValue as ``Registry.resolve_invocation`` does."""
        row = self._ids.get(url_id)
        if row is None:
            return None
        try:
            version, arn = self._registry.resolve_invocation(row.function, row.qualifier)
        except ResourceNotFound:
            self._drop(row)  # its alias is gone (a function's URLs go with it already)
            return None
        return UrlTarget(row, version, arn)

    def function_changed(self, name: str, version: str | None) -> None:
        """Registry version listener: a deleted function's URLs go with it."""
        if version is None and any(function == name for function, _ in self._rows):
            self._store.delete_function(name)
            for row in [row for (function, _), row in self._rows.items() if function == name]:
                self._forget(row)

    # ---- internals --------------------------------------------------------------------------

    def _target(self, function_name: str, qualifier: str | None, missing: str) -> tuple[str, str | None]:
        """The function and alias named, which must exist (else ResourceNotFound(missing))."""
        name, alias = parse_function_name(function_name, qualifier)
        if not self._exists(name, alias):
            raise ResourceNotFound(missing)
        return name, alias

    def _existing(self, function_name: str, qualifier: str | None, missing: str) -> UrlRow:
        name, alias = self._target(function_name, qualifier, missing)
        row = self._rows.get((name, alias))
        if row is None:
            raise ResourceNotFound(missing)
        return row

    def _exists(self, name: str, alias: str | None) -> bool:
        try:
            if alias is None:
                self._registry.resolve(name, None)
            else:
                self._registry.get_alias(name, alias)
        except ResourceNotFound:
            return False
        return True

    def _prune(self, name: str) -> None:
        """Drop the configs of ``name``'s aliases that are gone."""
        for (function, alias), row in list(self._rows.items()):
            if function == name and alias is not None and not self._exists(name, alias):
                self._drop(row)

    def _arn(self, row: UrlRow) -> str:
        return function_arn(self._region, self._account_id, row.function, row.qualifier)

    def _answer(self, row: UrlRow, modified: bool, default_mode: bool) -> dict[str, Any]:
        """A config as AWS shows it (see the module docstring)."""
        answer: dict[str, Any] = {
            "FunctionUrl": self.url(row),
            "FunctionArn": self._arn(row),
            "AuthType": row.auth_type,
            "CreationTime": row.created,
        }
        if row.cors is not None:
            answer["Cors"] = row.cors
        if modified:
            answer["LastModifiedTime"] = row.modified
        mode = row.invoke_mode or ("BUFFERED" if default_mode else None)
        if mode is not None:
            answer["InvokeMode"] = mode
        return answer

    def _cache(self, row: UrlRow) -> None:
        old = self._rows.get((row.function, row.qualifier))
        if old is not None:
            self._ids.pop(old.url_id, None)
        self._rows[(row.function, row.qualifier)] = row
        self._ids[row.url_id] = row

    def _drop(self, row: UrlRow) -> None:
        self._store.delete(row.function, row.qualifier)
        self._forget(row)

    def _forget(self, row: UrlRow) -> None:
        self._rows.pop((row.function, row.qualifier), None)
        self._ids.pop(row.url_id, None)


def _decode_marker(marker: str) -> str:
    try:
        return str(json.loads(base64.urlsafe_b64decode(marker.encode())))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidParameterValue(f"Invalid marker: {marker}") from None
