"""Pages of List* answers: the page size rule and the opaque ``Marker`` of function listings.

A marker names the last item of the previous page (a function name and version), base64 of a
JSON pair, so the next page starts strictly after it even when items came or went in between.
All functions here are pure.
"""

from __future__ import annotations

import base64
import binascii
import json

from flare.control.model import LATEST
from flare.errors import InvalidParameterValue

MAX_PAGE = 50


def limit(max_items: int | None) -> int:
    """How many items one page holds: ``MaxItems`` capped at 50, 50 when absent (the model's
    range of ``MaxItems``, from 1, is checked at the edge)."""
    return min(max_items or MAX_PAGE, MAX_PAGE)


def version_order(version: str) -> tuple[int, int]:
    """Sort key of a version: ``$LATEST`` first, then the numbers ascending."""
    return (0, 0) if version == LATEST else (1, int(version))


def encode_marker(name: str, version: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([name, version]).encode()).decode()


def decode_marker(marker: str) -> tuple[str, tuple[int, int]]:
    """The function name and ``version_order`` key a marker names; InvalidParameterValue if it
    is not one of ours."""
    try:
        name, version = json.loads(base64.urlsafe_b64decode(marker.encode()))
        return str(name), version_order(str(version))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidParameterValue(f"Invalid marker: {marker}") from None
