"""The function registry: every function's versions, aliases and code, durable and cached.

The registry owns the ``functions``, ``version_counters`` and ``aliases`` rows of the database
(aliases through ``Aliases``) and the code in the blob store. Every change is written to SQLite
first and then to the in-memory caches, so a new ``Registry`` on the same data directory (after
``load()``) sees exactly what the old one had.

Caches, each replaced entry-by-entry on every change::

    _rows      name => version => FunctionRow          (control-plane reads: AWS-shaped dicts)
    _runnable  (name, version) => FunctionVersion      (the invoke hot path: ``resolve``)
    _counters  name => highest version number ever published
    _aliases   see ``flare.control.aliases``          (alias => version routes for ``resolve``)

Only ``$LATEST`` changes in place; a published version is immutable from publishing until it is
deleted. A version's ``Layers`` are checked and resolved by ``Layers`` (``control/layers.py``):
the runnable view carries the merged ``/opt`` they make, and code plus layers may unzip to at
most 250 MB.

Contract: all methods are called from one thread (the event loop's). ``create_function`` and
``update_code`` hash and unpack the zip synchronously. Listeners hear about changes once they
are durable, so the engine can retire environments built from what is gone:

* ``add_version_listener(callback)``: ``callback(name, "$LATEST")`` after UpdateFunctionCode or
  UpdateFunctionConfiguration, ``callback(name, "N")`` after version N is deleted,
  ``callback(name, None)`` after the whole function is deleted;
* ``add_listener(callback)``: ``callback(name)`` on those same changes.

Creating a function, publishing a version and every alias change make nothing that
environments were built from stale, so they notify none of those; ``add_create_listener`` and
``add_publish_listener`` hear of new functions and new versions, ``add_alias_listener`` of
deleted aliases. TagResource and UntagResource change ``$LATEST``'s RevisionId (as on AWS) and
notify like an update, since the ``flare:network`` tag changes how environments are built.

A ``DeployGuard`` (``add_deploy_guard``) may refuse code: CreateFunction and UpdateFunctionCode
ask every guard before anything is stored (code signing configs are one).

Hot reload (``control/hot_reload.py``): a ``Code`` naming a host directory binds ``$LATEST`` to
it; its code is then a snapshot of the directory, and ``reload_code`` (called by the watcher,
``control/code_watch.py``) replaces it as an UpdateFunctionCode would, listeners told alike.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flare.clock import Clock
from flare.control import code, function_state, function_view, hot_reload, page, tags, validation, versions
from flare.control.aliases import Aliases, pick_version
from flare.control.arns import function_arn, parse_function_name
from flare.control.hot_reload import HotReload
from flare.control.model import LATEST, FunctionVersion
from flare.control.remote_change import Kind, notices
from flare.control.stale_writes import BUSY_MESSAGE, redone
from flare.errors import (
    InvalidParameterValue,
    InvalidZipFile,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
    StaleRevision,
)
from flare.store.blobs import MAX_UNZIPPED_BYTES, BlobStore, validate_zip
from flare.store.functions import FunctionRow
from flare.store.storage import FunctionStorage

if TYPE_CHECKING:
    from flare.control.layers import Layers

log = logging.getLogger("flare.registry")

Listener = Callable[[str], None]
VersionListener = Callable[[str, str | None], None]
CodeLocator = Callable[[str], str]
"""Given a code digest, the URL that downloads that code (GetFunction's ``Code.Location``)."""
AliasListener = Callable[[str, str], None]


class DeployGuard(Protocol):
    """Something that may refuse a function's code (code signing configs)."""

    def check_create(self, name: str, body: Mapping[str, Any]) -> None:
        """CreateFunction of ``name`` with ``body``, before anything is stored; raises to refuse."""

    def created(self, name: str, body: Mapping[str, Any]) -> None:
        """CreateFunction stored ``name``'s ``$LATEST``."""

    def check_code_update(self, name: str) -> None:
        """UpdateFunctionCode of ``name``, before anything is stored; raises to refuse."""


def format_last_modified(epoch_s: float) -> str:
    """AWS's ``LastModified`` string, e.g. ``2019-10-18T14:53:00.000+0000``."""
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class Registry:
    """Functions by name and version. See the module docstring for the caching contract."""

    def __init__(
        self,
        db: FunctionStorage,
        blobs: BlobStore,
        region: str,
        account_id: str,
        clock: Clock,
        layers: Layers | None = None,
        hot_reload: HotReload | None = None,
    ) -> None:
        self._db = db
        self._hot_reload = hot_reload  # None: no function may be bound to a directory
        self._blobs = blobs
        self._layers = layers  # None: no layer exists, so no function may list one
        self._region = region
        self._account_id = account_id
        self._clock = clock
        # name => version => row; the config dicts here are never handed out uncopied
        self._rows: dict[str, dict[str, FunctionRow]] = {}
        # (name, version) => runnable view, read by every invoke
        self._runnable: dict[tuple[str, str], FunctionVersion] = {}
        # name => highest version number ever published (survives deleting that version)
        self._counters: dict[str, int] = {}
        # (name, version) => why its code cannot run here (a shared store's blob refused)
        self._unusable: dict[tuple[str, str], InvalidZipFile] = {}
        self._aliases = Aliases(db, region, account_id)
        self._listeners: list[VersionListener] = []
        self._publish_listeners: list[Callable[[FunctionVersion], None]] = []
        self._create_listeners: list[Callable[[FunctionVersion], None]] = []
        self._alias_listeners: list[AliasListener] = []
        self._guards: list[DeployGuard] = []

    def __repr__(self) -> str:
        return f"<Registry functions={len(self._rows)}>"

    @property
    def store(self) -> FunctionStorage:
        """The store the registry's rows are in (its ``transaction`` is the one deleting a
        function shares with what belongs to it)."""
        return self._db

    def load(self) -> None:
        """Fill the caches from the database. Call once, before serving this account and
        region (code no one uses is deleted afterwards, across all of them: ``unused_code``)."""
        self._rows.clear()
        self._runnable.clear()
        for row in self._db.all_functions():
            self._cache(row)
            if function_state.unsettled(row.config):  # the engine stopped before it settled
                self._settle(row.name, row.version)
        self._counters = self._db.version_counters()
        self._aliases.load()

    def layer_lists(self) -> list[list[dict[str, Any]]]:
        """The ``Layers`` of every stored version (empty lists left out)."""
        lists = (row.config.get("Layers") or [] for rows in self._rows.values() for row in rows.values())
        return [list(references) for references in lists if references]

    def code_digests(self) -> set[str]:
        """The code zips stored functions use: of every account and region (the blob store is
        shared)."""
        return self._db.code_digests()

    def runtimes(self) -> set[str]:
        """The runtimes of every stored function version."""
        return {version.runtime for version in self._runnable.values()}

    def add_listener(self, callback: Listener) -> None:
        """Call ``callback(name)`` after every update or delete of function ``name`` (any version)."""
        self._listeners.append(lambda name, _version: callback(name))

    def add_version_listener(self, callback: VersionListener) -> None:
        """Call ``callback(name, version)`` after ``$LATEST`` of ``name`` changes or a version
        is deleted; ``version`` is None when the whole function was deleted."""
        self._listeners.append(callback)

    def add_alias_listener(self, callback: AliasListener) -> None:
        """Call ``callback(name, alias)`` after DeleteAlias removed ``alias`` of ``name`` (the
        aliases of a deleted function go with it: version listeners hear ``(name, None)``)."""
        self._alias_listeners.append(callback)

    def add_deploy_guard(self, guard: DeployGuard) -> None:
        """Ask ``guard`` before CreateFunction and UpdateFunctionCode store anything."""
        self._guards.append(guard)

    # -- hot path -------------------------------------------------------------------------------

    def resolve(self, function_name: str, qualifier: str | None) -> FunctionVersion:
        """The runnable version a client means, from memory only.

        The qualifier (``?Qualifier=`` or embedded in the name) may be ``$LATEST``, a version
        number or an alias; an alias with weighted routing picks one of its two versions at
        random (``pick_version`` with ``random.random()``). Raises ResourceNotFound (AWS's
        "Function not found: <arn>") or InvalidParameterValue for a malformed name or qualifier.
        """
        return self._resolved(function_name, qualifier)[0]

    def resolve_invocation(self, function_name: str, qualifier: str | None) -> tuple[FunctionVersion, str]:
        """``resolve`` for running it, and the function's ARN as the client invoked it:
        qualified with the version or alias the client gave, unqualified when it gave none.
        Raises InvalidZipFile too when a shared store refused the version's code here."""
        found, arn = self._resolved(function_name, qualifier)
        if self._unusable:
            self._check_code(found)
        return found, arn

    def _resolved(self, function_name: str, qualifier: str | None) -> tuple[FunctionVersion, str]:
        found = self._lookup(function_name, qualifier or LATEST)
        if found is None:
            function_name, qualifier = parse_function_name(function_name, qualifier)
            found = self._lookup(function_name, qualifier or LATEST)
            if found is None:
                raise self._not_found(function_name, qualifier)
        return found, found.function_arn if qualifier is None else f"{found.function_arn}:{qualifier}"

    # -- reads ----------------------------------------------------------------------------------

    def get_configuration(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        """GetFunctionConfiguration's body: of the version the qualifier names, or that an alias
        points at (then ``FunctionArn`` carries the alias). Raises ResourceNotFound,
        InvalidParameterValue."""
        return self._find(function_name, qualifier)[1]

    def get_function(self, function_name: str, qualifier: str | None, locate: CodeLocator) -> dict[str, Any]:
        """GetFunction's body: Configuration (as ``get_configuration``), Code (its location is
        ``locate(code digest)``) and (if any) Tags."""
        row, config = self._find(function_name, qualifier)
        body: dict[str, Any] = {
            "Configuration": config,
            "Code": {"RepositoryType": "S3", "Location": locate(row.code_digest)},
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
        limit = page.limit(max_items)
        after = page.decode_marker(marker) if marker else None
        keys = sorted(
            (name, page.version_order(version), version)
            for name, versions in self._rows.items()
            for version in versions
            if function_version == "ALL" or version == LATEST
        )
        if after is not None:
            keys = [key for key in keys if key[:2] > after]
        shown = keys[:limit]
        body: dict[str, Any] = {
            "Functions": [self._shown(self._rows[n][v].config, listed=True) for n, _, v in shown]
        }
        if len(keys) > limit:
            name, _, version = shown[-1]
            body["NextMarker"] = page.encode_marker(name, version)
        return body

    def list_versions(self, function_name: str, marker: str | None, max_items: int | None) -> dict[str, Any]:
        """ListVersionsByFunction's body: ``$LATEST`` then the published versions in ascending
        order, at most 50 per page. Raises ResourceNotFound, InvalidParameterValue."""
        name = self._function(function_name)
        limit = page.limit(max_items)
        after = page.decode_marker(marker)[1] if marker else None
        ordered = sorted(self._rows[name], key=page.version_order)
        if after is not None:
            ordered = [version for version in ordered if page.version_order(version) > after]
        shown = ordered[:limit]
        listed = [self._shown(self._rows[name][version].config, listed=True) for version in shown]
        for config in listed:  # here $LATEST too is named by its qualified ARN, as AWS lists it
            if config["Version"] == LATEST:
                config["FunctionArn"] = function_arn(self._region, self._account_id, name, LATEST)
        body: dict[str, Any] = {"Versions": listed}
        if len(ordered) > limit:
            body["NextMarker"] = page.encode_marker(name, shown[-1])
        return body

    def locate(self, function_name: str, qualifier: str | None) -> tuple[str, str | None]:
        """The bare name and qualifier a client means, both existing: ``(name, None)`` for the
        function itself, else ``(name, "$LATEST" | "N" | alias)``.

        Raises ResourceNotFound ("Function not found: <arn>" for a function or version,
        "Cannot find alias arn: <arn>" for an alias), InvalidParameterValue (malformed)."""
        name, parsed = parse_function_name(function_name, qualifier)
        rows = self._rows.get(name)
        if rows is None:
            raise self._not_found(name, parsed)
        if parsed is None or parsed in rows or self._aliases.version_of(name, parsed) is not None:
            return name, parsed
        if parsed == LATEST or parsed.isdigit():
            raise self._not_found(name, parsed)
        arn = function_arn(self._region, self._account_id, name, parsed)
        raise ResourceNotFound(f"Cannot find alias arn: {arn}")

    def has_function(self, name: str) -> bool:
        """Whether a function is called ``name`` (a bare name)."""
        return name in self._rows

    def tags(self, function_name: str) -> dict[str, str]:
        """The tags of a function (any qualifier ignored). Raises ResourceNotFound."""
        return dict(self._rows[self._function(function_name)][LATEST].tags)

    def replace_tags(self, function_name: str, new_tags: Mapping[str, str]) -> None:
        """Give the function exactly ``new_tags``: ``$LATEST`` gets a new RevisionId (as
        TagResource and UntagResource do on AWS), every version is re-read with the tags
        (``flare:network``), and listeners hear of a ``$LATEST`` update. Raises ResourceNotFound."""
        name = self._function(function_name)
        row = self._rows[name][LATEST]
        config = {**row.config, "RevisionId": str(uuid.uuid4())}
        updated = FunctionRow(name, LATEST, config, row.code_digest, dict(new_tags), row.seq)
        with self._against_store(name, {}):
            self._write(updated)
        self._cache(updated)
        for version, other in self._rows[name].items():
            if version != LATEST:
                self._cache(other)
        self._notify(name, LATEST)

    # -- aliases --------------------------------------------------------------------------------

    def create_alias(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """CreateAlias. Raises ResourceNotFound (function or version), ResourceConflict (the
        alias exists), InvalidParameterValue."""
        name = self._function(function_name)
        return self._redone_once(name, lambda: self._aliases.create(name, body, self._rows[name].keys()))

    def get_alias(self, function_name: str, alias: str) -> dict[str, Any]:
        """GetAlias. Raises ResourceNotFound, InvalidParameterValue."""
        return self._aliases.get(self._function(function_name), alias)

    def update_alias(self, function_name: str, alias: str, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateAlias. Raises ResourceNotFound, PreconditionFailed, InvalidParameterValue."""
        name = self._function(function_name)
        return self._redone_once(
            name, lambda: self._aliases.update(name, alias, body, self._rows[name].keys())
        )

    def delete_alias(self, function_name: str, alias: str) -> None:
        """DeleteAlias. Raises ResourceNotFound, InvalidParameterValue."""
        name = self._function(function_name)
        self._aliases.delete(name, alias)
        for listener in self._alias_listeners:
            listener(name, alias)

    def list_aliases(
        self, function_name: str, function_version: str | None, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        """ListAliases. Raises ResourceNotFound, InvalidParameterValue."""
        return self._aliases.list(self._function(function_name), function_version, marker, max_items)

    # -- changes --------------------------------------------------------------------------------

    def create_function(self, body: dict[str, Any]) -> dict[str, Any]:
        """CreateFunction: check ``body``, store the zip, persist $LATEST; returns its configuration.

        Raises InvalidParameterValue (bad field or zip), ResourceConflict (name taken),
        RequestTooLarge, InvalidRequestContent. Nothing is persisted when it raises.
        """
        config = self._with_layers(validation.normalise_create(body, self._today()), body)
        name = config["FunctionName"]
        function_tags = tags.check_new({}, body.get("Tags") or {})
        if name in self._rows:
            raise ResourceConflict(f"Function already exist: {name}")
        directory = self._hot_reload.requested(body.get("Code")) if self._hot_reload else None
        data = self._code_bytes(body.get("Code"), directory, config, "CreateFunction")
        self._check_total_size(validate_zip(data), config)
        for guard in self._guards:
            guard.check_create(name, body)
        digest = self._store_code(data)
        config.update(code.fields(data), FunctionArn=function_arn(self._region, self._account_id, name))
        config = function_state.created({**config, "Version": LATEST})
        row = FunctionRow(name, LATEST, self._stamp(config), digest, function_tags)
        try:
            self._cache(self._db.insert_function(row))
        except StaleRevision:  # created meanwhile by another node
            self.refresh(name)
            raise ResourceConflict(f"Function already exist: {name}") from None
        self._settle_soon(row)
        if directory is not None and self._hot_reload is not None:
            self._hot_reload.bind(name, directory)
        for guard in self._guards:
            guard.created(name, body)
        for listener in self._create_listeners:
            listener(self._runnable[(name, LATEST)])
        if body.get("Publish"):  # answered as version 1, named by the function's own ARN
            return {**self._publish(row, None), "FunctionArn": row.config["FunctionArn"]}
        return self._shown(row.config)

    def update_code(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateFunctionCode on $LATEST. ``DryRun`` checks and answers without storing;
        ``Publish`` then publishes a version and answers with it.

        Raises ResourceNotFound, PreconditionFailed (RevisionId), InvalidParameterValue.
        """
        row = self._latest(function_name, body)
        directory = self._hot_reload.requested(body) if self._hot_reload else None
        data = self._code_bytes(body, directory, row.config, "UpdateFunctionCode")
        config = validation.merge_update(
            row.config, {"Architectures": body.get("Architectures")}, self._today()
        )
        self._check_total_size(validate_zip(data), config)
        for guard in self._guards:
            guard.check_code_update(row.name)
        config.update(code.fields(data))
        if body.get("DryRun"):
            return self._shown(config)
        digest = self._store_code(data)
        updated = FunctionRow(
            row.name, LATEST, self._stamp(function_state.updating(config)), digest, row.tags, row.seq
        )
        if self._hot_reload is not None:
            self._hot_reload.bind(row.name, directory)
        with self._against_store(row.name, body):
            answer = self._replace(updated)
            if body.get("Publish"):
                return self._publish(updated, None)
        return answer

    def reload_code(self, name: str, directory: Path, data: bytes) -> bool:
        """Hot reload: ``data``, a snapshot of ``directory``, becomes ``$LATEST``'s code, as an
        UpdateFunctionCode would make it (new CodeSha256, CodeSize, RevisionId, LastModified;
        listeners told) but settled at once, if ``name`` is still bound to ``directory`` and
        the code differs. Returns whether it changed anything. Raises InvalidParameterValue
        (``data`` unsafe, or over the size limit with the function's layers) or what a
        ``DeployGuard`` raises (code signing under Enforce)."""
        row = self._rows.get(name, {}).get(LATEST)
        if row is None or self._hot_reload is None or self._hot_reload.directory_of(name) != directory:
            return False
        fields = code.fields(data)
        if fields["CodeSha256"] == row.config.get("CodeSha256"):
            return False
        self._check_total_size(validate_zip(data), row.config)
        for guard in self._guards:  # a code signing config attached since the binding
            guard.check_code_update(name)
        updated = FunctionRow(
            name, LATEST, self._stamp({**row.config, **fields}), self._store_code(data), row.tags, row.seq
        )
        self._replace(updated)
        return True

    def reload_layer(self, arn: str, directory: Path, data: bytes) -> bool:
        """Hot reload of a layer: ``data``, a snapshot of ``directory``, becomes the bound layer
        version ``arn`` as the ``$LATEST`` of every function listing it sees it, if it is still
        bound there and the snapshot differs: each such ``$LATEST`` gets a new RevisionId (so
        the next invoke runs in a fresh environment) and its ``/opt`` the new snapshot. Returns
        whether anything changed. Raises InvalidParameterValue (``data`` unsafe)."""
        if (
            self._layers is None
            or self._hot_reload is None
            or self._hot_reload.layer_directory_of(arn) != directory
        ):
            return False
        validate_zip(data)
        if not self._layers.set_live(arn, self._store_code(data)):
            return False
        for versions_of in list(self._rows.values()):
            row = versions_of.get(LATEST)
            if row is not None and any(ref.get("Arn") == arn for ref in row.config.get("Layers") or []):
                self._replace(
                    FunctionRow(row.name, LATEST, self._stamp(row.config), row.code_digest, row.tags, row.seq)
                )
        return True

    def update_configuration(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateFunctionConfiguration on $LATEST: only the fields given change.

        Raises ResourceNotFound, PreconditionFailed (RevisionId), InvalidParameterValue.
        """
        row = self._latest(function_name, body)
        config = self._with_layers(validation.merge_update(row.config, body, self._today()), body)
        if body.get("Layers") is not None:
            self._check_total_size(self._blobs.unzipped_size(row.code_digest), config)
        config = function_state.updating(config)
        with self._against_store(row.name, body):
            return self._replace(
                FunctionRow(row.name, LATEST, self._stamp(config), row.code_digest, row.tags, row.seq)
            )

    def publish_version(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PublishVersion: snapshot $LATEST as the next version number; when code and
        configuration are unchanged since the newest published version, answer with that one.

        Raises ResourceNotFound, PreconditionFailed (RevisionId), InvalidParameterValue (a
        ``CodeSha256`` other than $LATEST's, a bad description).
        """
        row = self._latest(function_name, body)
        expected = body.get("CodeSha256") or None  # an empty value is none, as AWS takes it
        current = row.config["CodeSha256"]
        if expected is not None and expected != current:
            raise InvalidParameterValue(
                f"CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST ({current}). "
                "Please try again with the CodeSHA256 in $LATEST."
            )
        with self._against_store(row.name, body):
            return self._publish(row, body.get("Description") or None)

    def delete_function(self, function_name: str, qualifier: str | None) -> None:
        """DeleteFunction: without a qualifier every version and alias goes; with a version
        number, that version only.

        Raises ResourceNotFound, InvalidParameterValue (qualifier ``$LATEST`` or an alias),
        ResourceConflict (an alias routes to the version).
        """
        name, parsed = parse_function_name(function_name, qualifier)
        if parsed == LATEST:
            raise InvalidParameterValue("$LATEST version cannot be deleted without deleting the function.")
        rows = self._rows.get(name)
        if rows is not None and parsed is not None and self._aliases.version_of(name, parsed) is not None:
            raise InvalidParameterValue(
                "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias."
            )
        if rows is None or (parsed is not None and parsed not in rows):
            raise self._not_found(name, parsed)
        referencing = self._aliases.referencing(name, parsed) if parsed is not None else []
        if referencing:
            raise ResourceConflict(
                "Unable to delete version because the following aliases reference it: "
                f"[{', '.join(referencing)}]"
            )
        # One transaction: the rows of the function (or version) and every row its listeners
        # delete with it (policies, settings, URLs, configs...) go together, or none does (and
        # then the caches are read back from what stayed).
        try:
            with self._db.transaction():
                if parsed is None:
                    self._db.delete_function(name)
                    self._forget(name, list(rows))
                else:
                    self._db.delete_version(name, parsed)
                    self._forget(name, [parsed])
                self._notify(name, parsed)
        except BaseException:
            self._reload(name)
            raise

    def _forget(self, name: str, versions: list[str]) -> None:
        """Drop ``versions`` of ``name`` from the caches (the whole function when none is left)."""
        rows = self._rows[name]
        for version in versions:
            del rows[version]
            self._runnable.pop((name, version), None)
            self._unusable.pop((name, version), None)
        if not rows:
            del self._rows[name]
            self._counters.pop(name, None)
            self._aliases.drop_function(name)

    def _reload(self, name: str) -> None:
        """Read ``name``'s versions, counter and aliases back into the caches from the database."""
        for version in list(self._rows.get(name, {})):
            self._runnable.pop((name, version), None)
        self._rows.pop(name, None)
        for row in self._db.all_functions():
            if row.name == name:
                self._cache(row)
        counter = self._db.version_counters().get(name)
        if counter is not None:
            self._counters[name] = counter
        self._aliases.load()

    def refresh(self, name: str) -> None:
        """Another node changed function ``name`` in the shared store: read its versions,
        counter and aliases back into the caches, then tell the listeners what that made new or
        stale, as if the change had been made here (``remote_change.notices``), so environments
        of changed or deleted versions retire on this node too."""
        before = self._revisions(name)
        self._recache(name, self._db.function_rows(name), self._db.version_counter(name))
        self._aliases.load_function(name)
        self._tell(name, before)

    def refresh_all(self) -> None:
        """``refresh`` every function this node knows of or the shared store holds (after a
        node's link to the store was down: what changed meanwhile was not heard of), reading
        them all at once."""
        found: dict[str, list[FunctionRow]] = {name: [] for name in self._rows}
        for row in self._db.all_functions():
            found.setdefault(row.name, []).append(row)
        counters = self._db.version_counters()
        before = {name: self._revisions(name) for name in found}
        for name, rows in found.items():
            self._recache(name, rows, counters.get(name))
        self._aliases.load()
        for name, revisions in before.items():
            self._tell(name, revisions)

    def _recache(self, name: str, rows: list[FunctionRow], counter: int | None) -> None:
        """Replace the cached versions of ``name`` with ``rows`` (none: it is gone) and its
        counter. A version whose code or layers cannot be had here is logged and left out of the
        runnable cache (404 on invoke)."""
        for version in self._revisions(name):
            self._runnable.pop((name, version), None)
            self._unusable.pop((name, version), None)
        self._rows.pop(name, None)
        for row in rows:
            try:
                self._cache(row)
            except Exception:  # one bad version must not keep the others from this node
                log.exception("could not cache %s:%s read back from the shared store", name, row.version)
        if counter is None:
            self._counters.pop(name, None)
        else:
            self._counters[name] = counter

    def _tell(self, name: str, before: Mapping[str, str]) -> None:
        """Tell the listeners what turned ``name``'s cached revisions from ``before`` into now."""
        for notice in notices(before, self._revisions(name)):
            if notice.kind is Kind.CHANGED:
                self._notify(name, notice.version)
                continue
            runnable = self._runnable.get((name, notice.version or LATEST))
            if runnable is None:  # not runnable here (logged when cached)
                continue
            listeners = self._create_listeners if notice.kind is Kind.CREATED else self._publish_listeners
            for listener in listeners:
                listener(runnable)

    def _revisions(self, name: str) -> dict[str, str]:
        """The cached RevisionId of every version of ``name``."""
        rows = self._rows.get(name, {})
        return {version: str(row.config.get("RevisionId")) for version, row in rows.items()}

    # -- internals ------------------------------------------------------------------------------

    def _write(self, row: FunctionRow) -> None:
        """Store ``row`` over the version it replaces, expecting the stored one to have the
        RevisionId this registry cached. Raises StaleRevision when another node moved it."""
        cached = self._rows.get(row.name, {}).get(row.version)
        expected = None if cached is None else cached.config.get("RevisionId")
        self._db.update_function(row, expected)

    def _redone_once(self, name: str, change: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``change()`` of ``name``'s aliases, checked once more against what is stored when
        another node changed them first (``stale_writes``; gone meanwhile: ResourceNotFound)."""

        def read_back() -> None:
            self.refresh(name)
            if name not in self._rows:
                raise self._not_found(name, None)

        return redone(change, read_back, function_arn(self._region, self._account_id, name))

    @contextmanager
    def _against_store(self, name: str, body: Mapping[str, Any]) -> Iterator[None]:
        """Turn a write the shared store refused (another node changed ``name`` first) into
        the client's answer, after reading ``name`` back: ResourceNotFound when it is gone,
        PreconditionFailed when the request named a RevisionId, else ResourceConflict."""
        try:
            yield
        except StaleRevision:
            self.refresh(name)
            if name not in self._rows:
                raise self._not_found(name, None) from None
            if body.get("RevisionId") is not None:
                raise PreconditionFailed(validation.REVISION_MESSAGE) from None
            arn = function_arn(self._region, self._account_id, name)
            raise ResourceConflict(f"{BUSY_MESSAGE}{arn}") from None

    def _trees(self, row: FunctionRow) -> tuple[Path, Path | None]:
        """The unpacked code of ``row`` and the ``/opt`` its layers make (None: no layers).
        When a shared store refused a zip, where the code would be and no ``/opt``: the version
        is then marked unusable until a later try finds the zips (``_check_code``)."""
        key = (row.name, row.version)
        layers = row.config.get("Layers") or []
        try:
            code_dir = self._blobs.unpacked(row.code_digest)
            live = row.version == LATEST
            opt_dir = self._layers.opt_dir(layers, live) if layers and self._layers is not None else None
        except InvalidZipFile as error:
            self._unusable[key] = error
            return self._blobs.tree(row.code_digest), None
        self._unusable.pop(key, None)
        return code_dir, opt_dir

    def _check_code(self, version: FunctionVersion) -> None:
        """Raise InvalidZipFile if ``version``'s code was refused and still is (tried again)."""
        key = (version.name, version.version)
        if key in self._unusable:
            self._cache(self._rows[version.name][version.version])
            error = self._unusable.get(key)
            if error is not None:
                raise error

    def _not_found(self, name: str, qualifier: str | None) -> ResourceNotFound:
        arn = function_arn(self._region, self._account_id, name, qualifier)
        return ResourceNotFound(f"Function not found: {arn}")

    def _lookup(self, name: str, qualifier: str) -> FunctionVersion | None:
        """The hot path: a version or alias of ``name`` (both exactly as given), or None."""
        found = self._runnable.get((name, qualifier))
        if found is None:
            route = self._aliases.route(name, qualifier)
            if route is not None:
                found = self._runnable.get((name, pick_version(route[0], route[1], random.random())))
        return found

    def _function(self, function_name: str) -> str:
        """The bare name of an existing function (any qualifier ignored); else ResourceNotFound."""
        name, _ = parse_function_name(function_name, None)
        if name not in self._rows:
            raise self._not_found(name, None)
        return name

    def _find(self, function_name: str, qualifier: str | None) -> tuple[FunctionRow, dict[str, Any]]:
        """The row a qualified name means, and a copy of its configuration as shown under that
        name (an alias's ARN for an alias)."""
        name, parsed = parse_function_name(function_name, qualifier)
        rows = self._rows.get(name, {})
        row = rows.get(parsed or LATEST)
        if row is not None:
            return row, self._shown(row.config)
        target = self._aliases.version_of(name, parsed) if parsed is not None else None
        row = rows.get(target) if target is not None else None
        if row is None:
            raise self._not_found(name, parsed)
        config = self._shown(row.config)
        config["FunctionArn"] = function_arn(self._region, self._account_id, name, parsed)
        return row, config

    def _latest(self, function_name: str, body: dict[str, Any]) -> FunctionRow:
        """The $LATEST row an update may change, after the RevisionId check."""
        name, qualifier = parse_function_name(function_name, None)
        if qualifier not in (None, LATEST):
            raise InvalidParameterValue("Only $LATEST can be updated; published versions are immutable.")
        row = self._find(name, None)[0]
        revision = body.get("RevisionId")
        if revision is not None and revision != row.config["RevisionId"]:
            raise PreconditionFailed(validation.REVISION_MESSAGE)
        refusal = function_state.update_refusal(row.config, row.config["FunctionArn"])
        if refusal is not None:
            raise refusal
        return row

    def _with_layers(self, config: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """``config`` with the ``Layers`` the body asks for, checked (``Layers.references``),
        their ``/opt`` built before anything is stored; unchanged when the body gives none. An
        empty list removes them (AWS then omits the field). Raises InvalidParameterValue."""
        arns = body.get("Layers")
        if arns is None:
            return config
        if self._layers is None and arns:
            raise InvalidParameterValue("Layers are not available in this registry.")
        references = self._layers.references(arns) if self._layers is not None else []
        config = {key: value for key, value in config.items() if key != "Layers"}
        if references and self._layers is not None:
            self._layers.opt_dir(references)
            config["Layers"] = references
        return config

    def _check_total_size(self, code_size: int, config: dict[str, Any]) -> None:
        """Raise InvalidParameterValue when code of ``code_size`` unzipped bytes and the layers
        ``config`` lists unzip to more than 250 MB together."""
        layers = config.get("Layers") or []
        if not layers or self._layers is None:
            return
        total = code_size + self._layers.unzipped_size(layers)
        if total > MAX_UNZIPPED_BYTES:
            raise InvalidParameterValue(
                "Function code combined with layers exceeds the maximum allowed size of "
                f"{MAX_UNZIPPED_BYTES} bytes. The actual size is {total} bytes."
            )

    def _code_bytes(
        self, code_body: object, directory: Path | None, config: Mapping[str, Any], operation: str
    ) -> bytes:
        """The zip a request brings: a snapshot of the hot-reload ``directory`` it binds (with the
        globs of ``config``'s variables, over its dependencies if the build cache has them: the
        watch installs what is missing, off the loop), else its ``ZipFile``. Raises like ``code.decode_zip``;
        InvalidParameterValue when the directory cannot be read."""
        if directory is None or self._hot_reload is None:
            return code.decode_zip(code_body, operation)
        try:
            variables = (config.get("Environment") or {}).get("Variables") or {}
            architecture = str((config.get("Architectures") or ["x86_64"])[0])
            target = hot_reload.build_target(str(config.get("Runtime", "")), architecture, variables)
            cached = hot_reload.dependencies(directory, target, self._hot_reload.cache, install=False)
            globs, policy = hot_reload.globs_of(variables), self._hot_reload.policy
            return hot_reload.snapshot(directory, globs, policy, cached)
        except OSError as exc:
            raise InvalidParameterValue(f"Hot reload directory {directory} cannot be read: {exc}") from None

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
        """Store ``row`` (``$LATEST``) over the cached one, cache it and tell the listeners.
        Raises StaleRevision (the stored row moved: nothing changed here)."""
        self._write(row)
        self._cache(row)
        self._settle_soon(row)
        self._notify(row.name, LATEST)
        return self._shown(row.config)

    def _publish(self, latest: FunctionRow, description: str | None) -> dict[str, Any]:
        """Publish ``latest`` (the $LATEST row) unless the newest version already holds it. The
        version starts in $LATEST's state and settles with it (a SnapStart version stays
        Pending until its snapshot is made)."""
        name = latest.name
        newest = versions.newest(self._rows[name])
        if newest is not None and versions.same_content(latest.config, self._rows[name][newest].config):
            return self._shown(self._rows[name][newest].config)
        number = str(self._counters.get(name, 0) + 1)
        arn = function_arn(self._region, self._account_id, name, number)
        config = self._stamp(versions.snapshot(latest.config, number, arn, description))
        if config.get("SnapStart", {}).get("ApplyOn") == "PublishedVersions":
            config["SnapStart"] = {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
            config = function_state.snapshotting(config)
        row = self._db.publish_version(FunctionRow(name, number, config, latest.code_digest))
        self._counters[name] = int(number)
        self._cache(row)
        self._settle_soon(row)
        for listener in self._publish_listeners:
            listener(self._runnable[(name, number)])
        return self._shown(row.config)

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock.wall(), tz=UTC).date()

    def _shown(self, config: dict[str, Any], listed: bool = False) -> dict[str, Any]:
        return function_view.shown(config, self._region, listed)

    def _settle_soon(self, row: FunctionRow) -> None:
        """Settle ``row``'s creation or update on the clock's next turn (see ``function_state``):
        the client has its Pending / InProgress answer first."""
        self._clock.call_later(0, lambda: self._settle(row.name, row.version))

    def _settle(self, name: str, version: str) -> None:
        """Mark ``version`` of ``name`` settled, if it still exists and is not yet. Nothing else
        can have started meanwhile: updates wait for the one in progress (``update_refusal``)."""
        row = self._rows.get(name, {}).get(version)
        if row is None or not function_state.unsettled(row.config):
            return
        settled = FunctionRow(
            name, version, function_state.settled(row.config), row.code_digest, row.tags, row.seq
        )
        try:
            self._write(settled)
        except StaleRevision:  # another node changed or deleted it since: it settles its own
            return
        self._cache(settled)

    def add_create_listener(self, callback: Callable[[FunctionVersion], None]) -> None:
        """``callback(version)`` after CreateFunction stored the new function's ``$LATEST``."""
        self._create_listeners.append(callback)

    def add_publish_listener(self, callback: Callable[[FunctionVersion], None]) -> None:
        """``callback(version)`` after each new published version is stored."""
        self._publish_listeners.append(callback)

    def set_version_state(
        self, name: str, version: str, state: str, reason_code: str | None, reason: str | None
    ) -> None:
        """Record a published version's ``State`` (SnapStart: Pending → Active or Failed)."""
        row = self._rows.get(name, {}).get(version)
        if row is None:
            return
        config = dict(row.config, State=state)
        for key, value in (("StateReasonCode", reason_code), ("StateReason", reason)):
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        updated = FunctionRow(row.name, row.version, config, row.code_digest, row.tags, row.seq)
        try:
            self._write(updated)
        except StaleRevision:  # the version went meanwhile, deleted by another node
            return
        self._cache(updated)

    def _cache(self, row: FunctionRow) -> None:
        self._rows.setdefault(row.name, {})[row.version] = row
        code_dir, opt_dir = self._trees(row)
        latest = self._rows[row.name].get(LATEST, row)
        self._runnable[(row.name, row.version)] = FunctionVersion.from_configuration(
            row.config, code_dir, self._region, self._account_id, latest.tags, opt_dir
        )

    def _notify(self, name: str, version: str | None) -> None:
        for listener in self._listeners:
            listener(name, version)
