"""The function registry: every function's configuration and code, durable and cached.

The registry owns the ``functions`` rows of the database and the code in the blob store. Every
change is written to SQLite first and then to the in-memory caches, so a new ``Registry`` on the
same data directory (after ``load()``) sees exactly what the old one had.

Two caches, both replaced entry-by-entry on every change::

    _rows      name => version => FunctionRow          (control-plane reads: AWS-shaped dicts)
    _runnable  (name, version) => FunctionVersion      (the invoke hot path: ``resolve``)

Contract: all methods are called from one thread (the event loop's). ``create_function`` and
``update_code`` hash and unpack the zip synchronously. Listeners are called with the function's
name after every update or delete, once the change is durable, so the engine can retire
environments built from the old revision.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flare.clock import Clock
from flare.control import validation
from flare.control.arns import function_arn, parse_function_name
from flare.control.model import LATEST, FunctionVersion
from flare.errors import (
    InvalidParameterValue,
    InvalidRequestContent,
    PreconditionFailed,
    RequestTooLarge,
    ResourceConflict,
    ResourceNotFound,
)
from flare.store.blobs import BlobStore, validate_zip
from flare.store.sqlite import Database, FunctionRow

Listener = Callable[[str], None]

MAX_PAGE = 50
MAX_REQUEST_BASE64 = 70_167_211
ZIP_ONLY_MESSAGE = "Flare accepts Code.ZipFile only"
REVISION_MESSAGE = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def format_last_modified(epoch_s: float) -> str:
    """AWS's ``LastModified`` string, e.g. ``2019-10-18T14:53:00.000+0000``."""
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def decode_zip(code: object, operation: str) -> bytes:
    """The zip bytes of a ``Code`` structure (or UpdateFunctionCode body).

    Raises InvalidParameterValue for S3 or image code, RequestTooLarge for an oversized upload,
    InvalidRequestContent when ZipFile is not base64.
    """
    if not isinstance(code, dict) or any(code.get(key) for key in ("S3Bucket", "S3Key", "ImageUri")):
        raise InvalidParameterValue(ZIP_ONLY_MESSAGE)
    encoded = code.get("ZipFile")
    if not isinstance(encoded, str) or not encoded:
        raise InvalidParameterValue(ZIP_ONLY_MESSAGE)
    if len(encoded) > MAX_REQUEST_BASE64:
        raise RequestTooLarge(
            f"Request must be smaller than {MAX_REQUEST_BASE64} bytes for the {operation} operation"
        )
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise InvalidRequestContent("Could not parse request body into json: ZipFile is not base64") from None


def _version_order(version: str) -> tuple[int, int]:
    return (0, 0) if version == LATEST else (1, int(version))


def _encode_marker(name: str, version: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([name, version]).encode()).decode()


def _decode_marker(marker: str) -> tuple[str, tuple[int, int]]:
    try:
        name, version = json.loads(base64.urlsafe_b64decode(marker.encode()))
        return str(name), _version_order(str(version))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidParameterValue(f"Invalid marker: {marker}") from None


class Registry:
    """Functions by name and version. See the module docstring for the caching contract."""

    def __init__(self, db: Database, blobs: BlobStore, region: str, account_id: str, clock: Clock) -> None:
        self._db = db
        self._blobs = blobs
        self._region = region
        self._account_id = account_id
        self._clock = clock
        # name => version => row; the config dicts here are never handed out uncopied
        self._rows: dict[str, dict[str, FunctionRow]] = {}
        # (name, version) => runnable view, read by every invoke
        self._runnable: dict[tuple[str, str], FunctionVersion] = {}
        self._listeners: list[Listener] = []

    def __repr__(self) -> str:
        return f"<Registry functions={len(self._rows)}>"

    def load(self) -> None:
        """Fill the caches from the database, unpacking any code tree that is missing, and delete
        code no stored version uses. Call once at start, before serving."""
        self._rows.clear()
        self._runnable.clear()
        for row in self._db.all_functions():
            self._cache(row)
        self._blobs.delete_unused(self._db.code_digests())

    def add_listener(self, callback: Listener) -> None:
        """Call ``callback(name)`` after every update or delete of function ``name``."""
        self._listeners.append(callback)

    # -- hot path -------------------------------------------------------------------------------

    def resolve(self, function_name: str, qualifier: str | None) -> FunctionVersion:
        """The runnable version a client means, from memory only.

        Raises ResourceNotFound (AWS's "Function not found: <arn>") or InvalidParameterValue for
        a malformed name or qualifier.
        """
        found = self._runnable.get((function_name, qualifier or LATEST))
        if found is not None:
            return found
        name, parsed = parse_function_name(function_name, qualifier)
        found = self._runnable.get((name, parsed or LATEST))
        if found is None:
            raise self._not_found(name, parsed)
        return found

    # -- reads ----------------------------------------------------------------------------------

    def get_configuration(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        """GetFunctionConfiguration's body. Raises ResourceNotFound, InvalidParameterValue."""
        return copy.deepcopy(self._find(function_name, qualifier).config)

    def get_function(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        """GetFunction's body: Configuration, Code location and (if any) Tags."""
        row = self._find(function_name, qualifier)
        body: dict[str, Any] = {
            "Configuration": copy.deepcopy(row.config),
            "Code": {"RepositoryType": "S3", "Location": self._blobs.path(row.code_digest).as_uri()},
        }
        tags = self._rows[row.name][LATEST].tags
        if tags:
            body["Tags"] = dict(tags)
        return body

    def list_functions(
        self, marker: str | None, max_items: int | None, function_version: str | None
    ) -> dict[str, Any]:
        """ListFunctions' body: functions sorted by name (then version), at most 50 per page.

        ``function_version`` ``ALL`` lists every version, otherwise only ``$LATEST``. ``marker``
        is a ``NextMarker`` from an earlier page. Raises InvalidParameterValue.
        """
        if function_version not in (None, "", "ALL"):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{function_version}' at 'functionVersion' "
                "failed to satisfy constraint: Member must satisfy enum value set: [ALL]"
            )
        if max_items is not None and max_items < 1:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy "
                "constraint: Member must have value greater than or equal to 1"
            )
        limit = min(max_items or MAX_PAGE, MAX_PAGE)
        after = _decode_marker(marker) if marker else None
        keys = sorted(
            (name, _version_order(version), version)
            for name, versions in self._rows.items()
            for version in versions
            if function_version == "ALL" or version == LATEST
        )
        if after is not None:
            keys = [key for key in keys if key[:2] > after]
        page = keys[:limit]
        body: dict[str, Any] = {"Functions": [copy.deepcopy(self._rows[n][v].config) for n, _, v in page]}
        if len(keys) > limit:
            name, _, version = page[-1]
            body["NextMarker"] = _encode_marker(name, version)
        return body

    # -- changes --------------------------------------------------------------------------------

    def create_function(self, body: dict[str, Any]) -> dict[str, Any]:
        """CreateFunction: check ``body``, store the zip, persist $LATEST; returns its configuration.

        Raises InvalidParameterValue (bad field or zip), ResourceConflict (name taken),
        RequestTooLarge, InvalidRequestContent. Nothing is persisted when it raises.
        """
        config = validation.normalise_create(body)
        name = config["FunctionName"]
        tags = validation.check_tags(body.get("Tags") or {})
        if name in self._rows:
            raise ResourceConflict(f"Function already exist: {name}")
        data = decode_zip(body.get("Code"), "CreateFunction")
        validate_zip(data)
        digest = self._store_code(data)
        config.update(self._code_fields(data), FunctionArn=function_arn(self._region, self._account_id, name))
        config.update(Version=LATEST, State="Active", LastUpdateStatus="Successful")
        row = FunctionRow(name, LATEST, self._stamp(config), digest, tags)
        self._cache(self._db.insert_function(row))
        return copy.deepcopy(row.config)

    def update_code(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateFunctionCode on $LATEST. ``DryRun`` checks and answers without storing.

        Raises ResourceNotFound, PreconditionFailed (RevisionId), InvalidParameterValue.
        """
        row = self._latest(function_name, body)
        data = decode_zip(body, "UpdateFunctionCode")
        validate_zip(data)
        config = validation.merge_update(row.config, {"Architectures": body.get("Architectures")})
        config.update(self._code_fields(data))
        if body.get("DryRun"):
            return config
        digest = self._store_code(data)
        return self._replace(FunctionRow(row.name, LATEST, self._stamp(config), digest, row.tags, row.seq))

    def update_configuration(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateFunctionConfiguration on $LATEST: only the fields given change.

        Raises ResourceNotFound, PreconditionFailed (RevisionId), InvalidParameterValue.
        """
        row = self._latest(function_name, body)
        config = validation.merge_update(row.config, body)
        return self._replace(
            FunctionRow(row.name, LATEST, self._stamp(config), row.code_digest, row.tags, row.seq)
        )

    def delete_function(self, function_name: str, qualifier: str | None) -> None:
        """DeleteFunction: without a qualifier every version goes; with one, that version only.

        Raises ResourceNotFound, InvalidParameterValue (qualifier ``$LATEST``).
        """
        name, parsed = parse_function_name(function_name, qualifier)
        if parsed == LATEST:
            raise InvalidParameterValue("$LATEST version cannot be deleted without deleting the function.")
        versions = self._rows.get(name)
        if versions is None or (parsed is not None and parsed not in versions):
            raise self._not_found(name, parsed)
        if parsed is None:
            self._db.delete_function(name)
            del self._rows[name]
            for version in versions:
                self._runnable.pop((name, version), None)
        else:
            self._db.delete_version(name, parsed)
            del versions[parsed]
            self._runnable.pop((name, parsed), None)
        self._notify(name)

    # -- internals ------------------------------------------------------------------------------

    def _not_found(self, name: str, qualifier: str | None) -> ResourceNotFound:
        arn = function_arn(self._region, self._account_id, name, qualifier)
        return ResourceNotFound(f"Function not found: {arn}")

    def _find(self, function_name: str, qualifier: str | None) -> FunctionRow:
        name, parsed = parse_function_name(function_name, qualifier)
        row = self._rows.get(name, {}).get(parsed or LATEST)
        if row is None:
            raise self._not_found(name, parsed)
        return row

    def _latest(self, function_name: str, body: dict[str, Any]) -> FunctionRow:
        """The $LATEST row an update may change, after the RevisionId check."""
        name, qualifier = parse_function_name(function_name, None)
        if qualifier not in (None, LATEST):
            raise InvalidParameterValue("Only $LATEST can be updated; published versions are immutable.")
        row = self._find(name, None)
        revision = body.get("RevisionId")
        if revision is not None and revision != row.config["RevisionId"]:
            raise PreconditionFailed(REVISION_MESSAGE)
        return row

    def _code_fields(self, data: bytes) -> dict[str, Any]:
        sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
        return {"CodeSha256": sha, "CodeSize": len(data)}

    def _store_code(self, data: bytes) -> str:
        digest = self._blobs.put(data)
        self._blobs.unpacked(digest)
        return digest

    def _stamp(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` marked as changed now: a new RevisionId and LastModified."""
        return {
            **config,
            "LastModified": format_last_modified(self._clock.wall()),
            "RevisionId": str(uuid.uuid4()),
        }

    def _replace(self, row: FunctionRow) -> dict[str, Any]:
        self._db.update_function(row)
        self._cache(row)
        self._notify(row.name)
        return copy.deepcopy(row.config)

    def _cache(self, row: FunctionRow) -> None:
        self._rows.setdefault(row.name, {})[row.version] = row
        code_dir = self._blobs.unpacked(row.code_digest)
        self._runnable[(row.name, row.version)] = FunctionVersion.from_configuration(
            row.config, code_dir, self._region, self._account_id
        )

    def _notify(self, name: str) -> None:
        for listener in self._listeners:
            listener(name)
