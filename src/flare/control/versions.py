"""Published versions: numbered, immutable snapshots of ``$LATEST``'s code and configuration.

A function's versions are numbered 1, 2, ... in publishing order; a number is never given twice,
even after its version is deleted (the registry keeps the highest number ever published).
Publishing when neither code nor configuration changed since the newest published version
returns that version instead of making a new one. All functions here are pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from flare.control.model import LATEST

# Fields that differ between a snapshot and its source without the function having changed.
# Description is among them: PublishVersion may override it per version.
BOOKKEEPING_FIELDS = frozenset(
    {
        "FunctionArn",
        "Version",
        "RevisionId",
        "LastModified",
        "Description",
        "State",
        "StateReason",
        "StateReasonCode",
        "LastUpdateStatus",
        "LastUpdateStatusReason",
        "LastUpdateStatusReasonCode",
    }
)


def newest(versions: Iterable[str]) -> str | None:
    """The highest published version number among ``versions`` (``$LATEST`` ignored), or None."""
    numbers = [int(version) for version in versions if version != LATEST]
    return str(max(numbers)) if numbers else None


def same_content(latest: Mapping[str, Any], published: Mapping[str, Any]) -> bool:
    """Whether ``published`` holds the code and configuration ``latest`` has now."""

    def content(config: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in config.items() if key not in BOOKKEEPING_FIELDS}

    return content(latest) == content(published)


def snapshot(latest: Mapping[str, Any], number: str, arn: str, description: str | None) -> dict[str, Any]:
    """The configuration of version ``number`` published from ``latest``: the same settings and
    code, ``Version`` the number, ``FunctionArn`` the qualified ``arn``, and ``description``
    instead of $LATEST's when given. The caller stamps RevisionId and LastModified.
    """
    config = {**copy.deepcopy(dict(latest)), "Version": number, "FunctionArn": arn}
    if description is not None:
        config["Description"] = description
    return config
