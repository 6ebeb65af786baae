"""Lambda layers: published versions of a zip that functions unpack under ``/opt``.

A layer is only its versions: PublishLayerVersion stores version 1, 2, ... of a name (numbers
never reused, even after every version was deleted), each immutable, its zip in the blob store
beside function code. Deleting a version hides it from every layer operation and from new
``Layers`` lists, but a function version already listing it keeps it: its row and zip stay
until no stored function version lists it (``collect``, at start-up).

Functions name up to 5 layer versions in order (``references`` checks them as AWS does and
answers the configuration's ``[{"Arn", "CodeSize"}]``); their ``/opt`` is those layers merged in
order (``opt_dir``), and their code plus layers must unzip to at most 250 MB (``unzipped_size``).

Another account's layer version (same region) is usable, by a function's ``Layers`` or
``GetLayerVersion``, when its policy (``AddLayerVersionPermission``) grants the caller's account
``lambda:GetLayerVersion``; otherwise, or when there is no such version, the answer is AWS's
``AccessDeniedException`` (``cross_account.denied``). ``peers(account)`` gives that account's
``Layers`` in this region (None for an account Flare has never seen). A function that listed it
keeps it, as a function keeps a deleted version of its own account's.

Hot reload (``control/hot_reload.py``): PublishLayerVersion's ``Content`` may name a host
directory (``S3Bucket: hot-reload``, ``S3Key: /abs/path``). The version is published with a
snapshot of it (what GetLayerVersion shows and downloads, and what published function versions
run: immutable), and bound to the directory: the ``$LATEST`` of every function listing it runs
the directory's newest snapshot (``set_live``; ``opt_dir(..., live=True)``), in a fresh
environment after each change. DeleteLayerVersion unbinds it.

Contract: called from the event loop's thread. Download links (``Content.Location``) are made by
the caller's ``locate(digest)``: they depend on the host the client called.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from flare.clock import Clock
from flare.control import code, cross_account, hot_reload, layer_policy
from flare.control.hot_reload import Globs, HotReload
from flare.control.layer_arns import (
    LayerName,
    layer_arn,
    layer_version_arn,
    parse_layer_name,
    parse_layer_version_arn,
)
from flare.control.layer_listing import Locate, listed, matches, page_of, with_location
from flare.control.registry import format_last_modified
from flare.control.stale_writes import redone
from flare.errors import InvalidParameterValue, ResourceNotFound
from flare.store.blobs import BlobStore, validate_zip
from flare.store.layers import LayerVersionRow
from flare.store.opt_trees import OptTrees, key_of
from flare.store.storage import LayerStorage

log = logging.getLogger("flare.layers")

MAX_LAYERS = 5
GET_LAYER_VERSION = "lambda:GetLayerVersion"
NOT_FOUND_MESSAGE = "The resource you requested does not exist."
NO_S3_MESSAGE = (
    "Flare has no S3: publish the layer's zip as Content.ZipFile "
    "(Content.S3Bucket, S3Key and S3ObjectVersion are not supported)."
)


class Layers:
    """Layer versions of one account and region. See the module docstring."""

    def __init__(
        self,
        store: LayerStorage,
        blobs: BlobStore,
        opt_trees: OptTrees,
        region: str,
        account: str,
        clock: Clock,
        peers: Callable[[str], Layers | None] = lambda account: None,
        hot_reload: HotReload | None = None,
    ) -> None:
        self._store = store
        self._hot_reload = hot_reload  # None: no layer may be bound to a directory
        self._hot_digests: dict[str, str] = {}  # bound layer version ARN => its directory's newest snapshot
        self._peers = peers
        self._blobs = blobs
        self._opt_trees = opt_trees
        self._region = region
        self._account = account
        self._clock = clock

    def __repr__(self) -> str:
        return f"<Layers {self._region} {self._account}>"

    # -- layer operations ------------------------------------------------------------------------

    def publish(self, layer_name: str, body: dict[str, Any], locate: Locate) -> dict[str, Any]:
        """PublishLayerVersion: store the zip and the next version of the layer. Raises
        InvalidParameterValue (S3 content, a bad zip, a layer of another account or region),
        RequestTooLarge, InvalidRequestContent."""
        layer = self._own(layer_name)
        if layer is None:
            raise InvalidParameterValue(f"Layer {layer_name} is not in this account and region.")
        content = body.get("Content")
        directory = self._hot_reload.requested(content) if self._hot_reload is not None else None
        if (
            directory is None
            and isinstance(content, dict)
            and any(content.get(key) for key in ("S3Bucket", "S3Key", "S3ObjectVersion"))
        ):
            raise InvalidParameterValue(NO_S3_MESSAGE)
        data = self._content(content, directory)
        size = validate_zip(data)
        digest = self._blobs.put(data)
        self._blobs.unpacked(digest)
        config: dict[str, Any] = {
            "LayerArn": layer_arn(self._region, self._account, layer.name),
            "Description": body.get("Description") or "",
            "CreatedDate": format_last_modified(self._clock.wall()),
            "Content": {"CodeSha256": code.fields(data)["CodeSha256"], "CodeSize": len(data)},
        }
        for field in ("CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
            if body.get(field) is not None:
                config[field] = body[field]

        def build(version: int) -> LayerVersionRow:
            arn = layer_version_arn(self._region, self._account, layer.name, version)
            return LayerVersionRow(
                layer.name, version, {**config, "LayerVersionArn": arn, "Version": version}, digest, size
            )

        row = self._store.publish(layer.name, build)
        if directory is not None and self._hot_reload is not None:
            self._hot_reload.bind_layer(row.config["LayerVersionArn"], directory)
        return with_location(row, locate)

    def _content(self, content: object, directory: Path | None) -> bytes:
        """The zip PublishLayerVersion brings: a snapshot of the hot-reload ``directory``, else
        its ``ZipFile``. Raises InvalidParameterValue, InvalidRequestContent."""
        if directory is None or self._hot_reload is None:
            return code.decode_zip(content, "PublishLayerVersion")
        try:
            return hot_reload.snapshot(directory, Globs(), self._hot_reload.policy)
        except OSError as exc:
            raise InvalidParameterValue(f"Hot reload directory {directory} cannot be read: {exc}") from None

    def set_live(self, arn: str, digest: str) -> bool:
        """Hot reload: the bound layer version ``arn``'s directory is now the stored, unpacked
        zip ``digest``; whether that changed anything."""
        row = self._row_of(arn)
        current = self._hot_digests.get(arn, row.code_digest if row is not None else None)
        if row is None or current == digest:
            return False
        self._hot_digests[arn] = digest
        return True

    def get(self, layer_name: str, version: int, locate: Locate) -> dict[str, Any]:
        """GetLayerVersion (of this account's layer, or another's that grants it). Raises
        InvalidParameterValue (version below 1), ResourceNotFound, AccessDenied."""
        _check_version(version)
        layer = parse_layer_name(layer_name, self._region, self._account)
        if layer.region == self._region and layer.account != self._account:
            return with_location(self._granted(layer, version), locate)
        return with_location(self._live(layer_name, version, ResourceNotFound(NOT_FOUND_MESSAGE)), locate)

    def get_by_arn(self, arn: str, locate: Locate) -> dict[str, Any]:
        """GetLayerVersionByArn. Raises ResourceNotFound, InvalidParameterValue, AccessDenied."""
        ref = parse_layer_version_arn(arn)
        if ref.layer.region != self._region:
            raise ResourceNotFound(NOT_FOUND_MESSAGE)
        return self.get(layer_arn(ref.layer.region, ref.layer.account, ref.layer.name), ref.version, locate)

    def delete(self, layer_name: str, version: int) -> None:
        """DeleteLayerVersion: idempotent, as on AWS (a missing version is no error). Raises
        InvalidParameterValue for a version below 1."""
        _check_version(version)
        layer = self._own(layer_name)
        if layer is not None:
            self._store.mark_deleted(layer.name, version)
            arn = layer_version_arn(self._region, self._account, layer.name, version)
            self._hot_digests.pop(arn, None)
            if self._hot_reload is not None and self._hot_reload.layer_directory_of(arn) is not None:
                self._hot_reload.bind_layer(arn, None)

    def list_layers(
        self, runtime: str | None, architecture: str | None, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        """ListLayers: every layer with a version matching the filters, by name, each with its
        newest matching version. Raises InvalidParameterValue (marker, MaxItems)."""
        newest: dict[str, LayerVersionRow] = {}
        for row in self._store.live():
            if row.name not in newest and matches(row, runtime, architecture):
                newest[row.name] = row
        items = [
            {"LayerName": name, "LayerArn": row.config["LayerArn"], "LatestMatchingVersion": listed(row)}
            for name, row in sorted(newest.items())
        ]
        return page_of(items, "Layers", lambda item: str(item["LayerName"]), marker, max_items)

    def list_versions(
        self,
        layer_name: str,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> dict[str, Any]:
        """ListLayerVersions: the layer's live versions matching the filters, newest first (none
        for an unknown layer). Raises InvalidParameterValue (marker, MaxItems)."""
        layer = self._own(layer_name)
        rows = self._store.live(layer.name) if layer is not None else []
        items = [listed(row) for row in rows if matches(row, runtime, architecture)]
        return page_of(
            items, "LayerVersions", lambda item: f"{int(item['Version']):020d}", marker, max_items, True
        )

    # -- permissions -----------------------------------------------------------------------------

    def add_permission(
        self, layer_name: str, version: int, body: dict[str, Any], revision: str | None
    ) -> dict[str, Any]:
        """AddLayerVersionPermission. Raises ResourceNotFound, ResourceConflict (Sid taken),
        PreconditionFailed (RevisionId)."""

        def change() -> dict[str, Any]:
            row = self._live(layer_name, version, None)
            new = layer_policy.statement(
                str(body.get("StatementId")),
                str(body.get("Action")),
                str(body.get("Principal")),
                body.get("OrganizationId"),
                row.config["LayerVersionArn"],
            )
            statements = layer_policy.added(row.policy, new, revision, row.policy_revision)
            new_revision = str(uuid.uuid4())
            self._store.set_policy(row.name, row.version, statements, new_revision, row.policy_revision or "")
            return {"Statement": layer_policy.dumps(new), "RevisionId": new_revision}

        return redone(change, lambda: None, self._version_arn(layer_name, version))

    def remove_permission(self, layer_name: str, version: int, sid: str, revision: str | None) -> None:
        """RemoveLayerVersionPermission. Raises ResourceNotFound (version or statement),
        PreconditionFailed (RevisionId)."""

        def change() -> None:
            row = self._live(layer_name, version, None)
            statements = layer_policy.removed(row.policy, sid, revision, row.policy_revision)
            new_revision = str(uuid.uuid4()) if statements else None
            self._store.set_policy(row.name, row.version, statements, new_revision, row.policy_revision or "")

        redone(change, lambda: None, self._version_arn(layer_name, version))

    def get_policy(self, layer_name: str, version: int) -> dict[str, Any]:
        """GetLayerVersionPolicy. Raises ResourceNotFound (version, or no policy)."""
        row = self._live(layer_name, version, None)
        return {"Policy": layer_policy.document(row.policy), "RevisionId": row.policy_revision}

    # -- what functions use ----------------------------------------------------------------------

    def references(self, arns: object) -> list[dict[str, Any]]:
        """A function's ``Layers`` as its configuration shows them (``[{"Arn", "CodeSize"}]``),
        from the layer version ARNs a client gave, checked as AWS checks them. Raises
        InvalidParameterValue (more than 5, another region, a missing version, two versions of
        one layer)."""
        if not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns):
            raise InvalidParameterValue("Layers must be a list of layer version ARNs.")
        if len(arns) > MAX_LAYERS:
            raise InvalidParameterValue(f"Cannot reference more than {MAX_LAYERS} layers.")
        seen: dict[str, str] = {}
        answer = []
        for arn in arns:
            ref = parse_layer_version_arn(arn)
            if ref.layer.region != self._region:
                raise InvalidParameterValue(
                    "Layers are not in the same region as the function. "
                    f"Layers are expected to be in region {self._region}."
                )
            row: LayerVersionRow | None
            if ref.layer.account != self._account:
                row = self._granted(ref.layer, ref.version)
            else:
                row = self._store.get(ref.layer.name, ref.version)
            if row is None or row.deleted:
                raise InvalidParameterValue(f"Layer version {arn} does not exist.")
            layer = arn.rsplit(":", 1)[0]
            if layer in seen:
                raise InvalidParameterValue(
                    "Two different versions of the same layer are not allowed to be referenced in the "
                    f"same function. {seen[layer]} and {arn} are versions of the same layer."
                )
            seen[layer] = arn
            answer.append({"Arn": arn, "CodeSize": row.config["Content"]["CodeSize"]})
        return answer

    def unzipped_size(self, references: Sequence[dict[str, Any]]) -> int:
        """Bytes the listed layer versions unzip to, together."""
        return sum(row.unzipped_size for row in self._rows(references))

    def opt_dir(self, references: Sequence[dict[str, Any]], live: bool = False) -> Path | None:
        """The directory a function listing ``references`` sees as ``/opt`` (None without
        layers), built on first use. A version deleted meanwhile still counts. ``live`` (a
        ``$LATEST``): a hot-reload version as its directory's newest snapshot."""
        digests = [
            self._hot_digests.get(str(row.config["LayerVersionArn"]), row.code_digest)
            if live
            else row.code_digest
            for row in self._rows(references)
        ]
        return self._opt_trees.tree_for(digests)

    def forget_unlisted(self, in_use: Iterable[Sequence[dict[str, Any]]]) -> None:
        """Forget this account's deleted versions that no function version lists any more
        (``in_use``: the ``Layers`` of every stored function version, of every account)."""
        referenced = set()
        for references in in_use:
            referenced |= {
                (ref.layer.name, ref.version)
                for ref in self._refs(references)
                if (ref.layer.region, ref.layer.account) == (self._region, self._account)
            }
        self._store.purge_deleted(referenced)

    def tree_keys(self, in_use: Iterable[Sequence[dict[str, Any]]]) -> set[str]:
        """The keys of the merged ``/opt`` trees this account's functions' ``Layers`` (``in_use``)
        need (``unused_code`` deletes the rest)."""
        return {
            key_of([row.code_digest for row in self._rows(references)]) for references in in_use if references
        }

    def code_digests(self) -> set[str]:
        """The zips stored layer versions use: of every account and region."""
        return self._store.code_digests()

    # -- internals -------------------------------------------------------------------------------

    def _own(self, layer_name: str) -> LayerName | None:
        """The layer ``layer_name`` names if it is of this account and region, else None."""
        layer = parse_layer_name(layer_name, self._region, self._account)
        return layer if (layer.region, layer.account) == (self._region, self._account) else None

    def _version_arn(self, layer_name: str, version: int) -> str:
        layer = parse_layer_name(layer_name, self._region, self._account)
        return layer_version_arn(layer.region, layer.account, layer.name, version)

    def _live(self, layer_name: str, version: int, missing: Exception | None) -> LayerVersionRow:
        """A live version; else raise ``missing`` (default: AWS's "Layer version ARN does not
        exist")."""
        layer = parse_layer_name(layer_name, self._region, self._account)
        ours = (layer.region, layer.account) == (self._region, self._account)
        row = self._store.get(layer.name, version) if ours else None
        if row is None or row.deleted:
            arn = layer_version_arn(layer.region, layer.account, layer.name, version)
            raise missing or ResourceNotFound(f"Layer version {arn} does not exist.")
        return row

    def _stored(self, layer: LayerName, version: int) -> LayerVersionRow | None:
        """The stored row (deleted or not) of ``layer``'s ``version``, this account's or a peer's."""
        if layer.account == self._account:
            return self._store.get(layer.name, version)
        peer = self._peers(layer.account)
        return peer._store.get(layer.name, version) if peer is not None else None

    def _granted(self, layer: LayerName, version: int) -> LayerVersionRow:
        """A live version of another account's ``layer`` whose policy grants this account
        ``lambda:GetLayerVersion``; else raise AccessDenied (a missing version too, as AWS
        reveals nothing of another account's layers)."""
        peer = self._peers(layer.account)
        row = peer._store.get(layer.name, version) if peer is not None else None
        if row is None or row.deleted or not layer_policy.allows(row.policy, self._account):
            arn = layer_version_arn(layer.region, layer.account, layer.name, version)
            raise cross_account.denied(self._account, GET_LAYER_VERSION, arn)
        return row

    def _row_of(self, arn: str) -> LayerVersionRow | None:
        ref = parse_layer_version_arn(arn)
        return self._stored(ref.layer, ref.version)

    def _refs(self, references: Sequence[dict[str, Any]]) -> list[Any]:
        return [parse_layer_version_arn(str(reference["Arn"])) for reference in references]

    def _rows(self, references: Sequence[dict[str, Any]]) -> list[LayerVersionRow]:
        """The stored rows (deleted or not) of a function's ``Layers``, in order; a row that is
        gone (a damaged store) is logged and left out."""
        rows = []
        for ref in self._refs(references):
            row = self._stored(ref.layer, ref.version)
            if row is None:
                log.warning(
                    "layer version %s:%d is listed by a function but not stored", ref.layer.name, ref.version
                )
            else:
                rows.append(row)
        return rows


def _check_version(version: int) -> None:
    if version < 1:
        raise InvalidParameterValue("Layer Version Cannot be less than 1")
