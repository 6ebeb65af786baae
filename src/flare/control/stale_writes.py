"""Changes a shared store refused because another node changed the same thing first.

A cluster node checks a change against what it read or cached, then writes it with
compare-and-set; the store raises ``StaleRevision`` when the row moved meanwhile. The change is
then checked again against what is stored now, so the client gets the answer AWS would give had
the two requests come one after the other. Single-node stores never refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flare.errors import ResourceConflict, StaleRevision

T = TypeVar("T")

BUSY_MESSAGE = "The operation cannot be performed at this time. An update is in progress for resource: "


def redone(change: Callable[[], T], read_back: Callable[[], None], resource_arn: str, tries: int = 2) -> T:
    """``change()``; each time the store refuses it, ``read_back()`` (which may raise the
    client's answer itself, e.g. ResourceNotFound) and ``change()`` again, ``tries`` times in
    all. Refused every time: ResourceConflict naming ``resource_arn``, as AWS answers a resource
    being modified."""
    for _ in range(tries - 1):
        try:
            return change()
        except StaleRevision:
            read_back()
    try:
        return change()
    except StaleRevision:
        raise ResourceConflict(f"{BUSY_MESSAGE}{resource_arn}") from None
