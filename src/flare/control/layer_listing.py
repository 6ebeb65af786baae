"""How layer versions are shown in listings and pages (ListLayers, ListLayerVersions) and with
their download link (GetLayerVersion, PublishLayerVersion): pure functions of stored rows."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from flare.control import page
from flare.errors import InvalidParameterValue
from flare.store.layers import LayerVersionRow

Locate = Callable[[str], str]
"""A stored zip's digest => the link that downloads it (depends on the host the client called)."""

LISTED = (
    "LayerVersionArn",
    "Version",
    "Description",
    "CreatedDate",
    "CompatibleRuntimes",
    "CompatibleArchitectures",
    "LicenseInfo",
)


def with_location(row: LayerVersionRow, locate: Locate) -> dict[str, Any]:
    """A version as GetLayerVersion answers it: its ``Content`` with ``locate``'s download link."""
    body = dict(row.config)
    body["Content"] = {"Location": locate(row.code_digest), **row.config["Content"]}
    return body


def listed(row: LayerVersionRow) -> dict[str, Any]:
    """A version as ListLayerVersions and ListLayers show it (no Content, no LayerArn)."""
    return {field: row.config[field] for field in LISTED if field in row.config}


def matches(row: LayerVersionRow, runtime: str | None, architecture: str | None) -> bool:
    """Whether a version declares the runtime and the architecture asked for (None: any)."""
    runtimes = row.config.get("CompatibleRuntimes") or []
    architectures = row.config.get("CompatibleArchitectures") or []
    return (runtime is None or runtime in runtimes) and (
        architecture is None or architecture in architectures
    )


def page_of(
    items: list[dict[str, Any]],
    key: str,
    sort_key: Callable[[dict[str, Any]], str],
    marker: str | None,
    max_items: int | None,
    descending: bool = False,
) -> dict[str, Any]:
    """One page of ``items`` (already in order) after ``marker``, under ``key``, with a
    ``NextMarker`` when more follow."""
    limit = page.limit(max_items)
    if marker:
        after = _decode_marker(marker)
        items = [item for item in items if (sort_key(item) < after if descending else sort_key(item) > after)]
    body: dict[str, Any] = {key: items[:limit]}
    if len(items) > limit:
        body["NextMarker"] = base64.urlsafe_b64encode(sort_key(items[limit - 1]).encode()).decode()
    return body


def _decode_marker(marker: str) -> str:
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (ValueError, binascii.Error):
        raise InvalidParameterValue(f"Invalid marker: {marker}") from None
