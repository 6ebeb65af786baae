"""Substitutions: how an AWS example's input and output become ones Flare can run. Pure.

A ``Substitution`` replaces ``old`` with ``new`` either in every string of an example (``where``
is ``"strings"``: an account id or a region inside ARNs, a runtime name), or at one path of its
input or output (``"input.Code"``, ``"output.Aliases[0].AliasArn"``), where ``old`` must be what
the example has there (``ABSENT`` when it has nothing; ``new`` ``ABSENT`` removes the member).
A ``new`` of ``Made(key)`` is a value the example's setup made (a mapping's UUID), known only
when the example runs. Each says ``why``: the substitutions are the list of every way our run
of an example departs from AWS's text.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()


@dataclass(frozen=True)
class Made:
    """A value the example's setup made, by name."""

    key: str


@dataclass(frozen=True)
class Substitution:
    where: str
    old: Any
    new: Any
    why: str

    def __post_init__(self) -> None:
        assert self.where == "strings" or self.where.split(".", 1)[0] in ("input", "output"), self.where
        assert self.why, "every substitution says why"


def apply(
    substitutions: Iterable[Substitution], example: Mapping[str, Any], made: Mapping[str, Any]
) -> dict[str, Any]:
    """``{"input": ..., "output": ...}`` of ``example`` with ``substitutions`` applied in order.

    Raises AssertionError when a path substitution does not find its ``old`` value: the
    example changed, and the table must be read again.
    """
    document = {
        "input": copy.deepcopy(example.get("input") or {}),
        "output": copy.deepcopy(example.get("output")),
    }
    for substitution in substitutions:
        new = made[substitution.new.key] if isinstance(substitution.new, Made) else substitution.new
        if substitution.where == "strings":
            document = _replace_in_strings(document, substitution.old, new)
        else:
            _replace_at(document, substitution.where, substitution.old, new)
    return document


def _replace_in_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_in_strings(item, old, new) for item in value]
    if isinstance(value, dict):
        return {
            _replace_in_strings(key, old, new): _replace_in_strings(item, old, new)
            for key, item in value.items()
        }
    return value


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _replace_at(document: dict[str, Any], path: str, old: Any, new: Any) -> None:
    steps: list[str | int] = [name if name else int(index) for name, index in _STEP.findall(path)]
    parent: Any = document
    for step in steps[:-1]:
        parent = parent[step]
    last = steps[-1]
    if parent is None and old is ABSENT:
        raise AssertionError(f"{path}: the example has no object here")
    present = isinstance(parent, list) or last in parent
    found = parent[last] if present else ABSENT
    assert found == old or (found is ABSENT and old is ABSENT), (
        f"{path}: the example has {found!r}, not {old!r}"
    )
    if new is ABSENT:
        del parent[last]
    else:
        parent[last] = new
