"""What another node's change to a function means here: a pure decision from revisions.

A cluster node hears that function ``name`` changed in the shared store (``cluster/``) and reads
its versions back. ``notices(before, after)`` compares the RevisionIds it cached with those it
read (version => RevisionId, ``{}`` for no function) and says what the registry's listeners
must hear, as if the change had been made on this node:

    before      after                      notices
    {}          {$LATEST, 1...}            CREATED, then PUBLISHED for each version
    {...}       {}                         CHANGED None (the whole function is gone)
    {1: r}      {}  for version 1 only     CHANGED "1" (a deleted version)
    {$LATEST:a} {$LATEST:b}                CHANGED "$LATEST" (code, configuration or tags)
    {}          {2: r} new                 PUBLISHED "2"
    same revisions (a state settled)       nothing

A published version never changes its RevisionId in place; ``$LATEST`` gets a new one on every
update (``Registry._stamp``), but not when its state settles.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from flare.control.model import LATEST


class Kind(enum.Enum):
    CREATED = "created"  # the function is new here
    PUBLISHED = "published"  # a version is new here
    CHANGED = "changed"  # a version changed or went (version None: the whole function went)


@dataclass(frozen=True)
class Notice:
    kind: Kind
    version: str | None = None


def notices(before: Mapping[str, str], after: Mapping[str, str]) -> list[Notice]:
    """The listeners' notices that turn ``before`` into ``after`` (see the module docstring)."""
    if not before and not after:
        return []
    if not after:
        return [Notice(Kind.CHANGED, None)]
    found: list[Notice] = []
    if not before:
        found.append(Notice(Kind.CREATED, LATEST))
    found += [Notice(Kind.CHANGED, version) for version in before if version not in after]
    if LATEST in before and LATEST in after and before[LATEST] != after[LATEST]:
        found.append(Notice(Kind.CHANGED, LATEST))
    found += [
        Notice(Kind.PUBLISHED, version) for version in after if version not in before and version != LATEST
    ]
    return found
