"""Flare's answer against one of AWS's documented examples, field by field. Pure.

``differences(shape, expected, actual, allowed)`` walks the example's output (``expected``, as
botocore's examples write it) and Flare's answer as boto3 parsed it (``actual``) along the
operation's output shape and lists every difference no ``Allowed`` entry decides:

* ``missing``: a member the example has and the answer lacks (allowed by kind ``absent``);
* ``extra``: a member the answer has and the example lacks (kind ``added``: AWS answers members
  it added after the example was written, and per shape in ``added_since``);
* ``type``: a value that is not of its member's model type, in the answer or in the example
  (an example writes timestamps as strings or numbers, boto3 parses them to datetimes: both are
  timestamps). Never allowed;
* ``value``: a different value (kind ``value``), except for ``GENERATED`` members, whose values
  AWS makes (revision ids, dates, digests) and are compared by type only;
* ``length``: lists of different lengths (kind ``length``); items are compared in order, unless
  kind ``order`` says the order is not AWS's to keep: items are then matched by identity.

Members whose strings are JSON documents (``JSON_DOCUMENTS``: policies and statements) are
compared as the documents they hold, so key order does not matter; their paths go on into the
document (``Statement.Condition.ArnLike``).

A path is member names joined by dots, with ``[n]`` for list items (``Versions[1].Version``);
an ``Allowed`` path may write ``[*]`` for any item. ``differences`` also returns the allowances
it used, so a test can tell one that no longer applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

GENERATED = {
    "RevisionId": "a new id at every change",
    "LastModified": "the time of the change",
    "CreatedDate": "the time of the publication",
    "CodeSha256": "the digest of the code, which the examples' S3 objects and our zips differ in",
    "CodeSize": "the size of the code, likewise",
    "Location": "a presigned URL that expires",
}
JSON_DOCUMENTS = frozenset({"Statement", "Policy"})
KINDS = ("absent", "added", "value", "length", "order")
IDENTITIES = ("FunctionArn", "AliasArn", "UUID", "LayerVersionArn", "Name")


@dataclass(frozen=True)
class Allowed:
    """A decided difference: at ``path``, a difference of ``kind``, for the reason ``why``."""

    path: str
    kind: str
    why: str

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert self.why, "every allowed difference says why"


@dataclass
class _Walk:
    allowed: tuple[Allowed, ...]
    added_since: Mapping[str, Mapping[str, str]]
    found: list[str]
    used: set[Allowed]

    def allows(self, path: str, kind: str) -> bool:
        general = re.sub(r"\[\d+\]", "[*]", path)
        for entry in self.allowed:
            if entry.kind == kind and entry.path in (path, general):
                self.used.add(entry)
                return True
        return False


def differences(
    shape: Shape | None,
    expected: Any,
    actual: Any,
    allowed: Iterable[Allowed] = (),
    added_since: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[list[str], set[Allowed]]:
    """The undecided differences between ``expected`` and ``actual``, and the allowances used."""
    walk = _Walk(tuple(allowed), added_since or {}, [], set())
    if shape is None:
        _compare_json(expected or {}, actual or {}, "", walk)
    else:
        _compare(shape, expected, actual, "", walk)
    return walk.found, walk.used


def kind_of(shape: Shape, value: Any) -> str:
    """``shape``'s type name when ``value`` is one (as an example writes it or boto3 parses it),
    else the Python type of ``value``."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    fits = {
        "structure": isinstance(value, dict),
        "map": isinstance(value, dict),
        "list": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "float": number,
        "double": number,
        "boolean": isinstance(value, bool),
        "timestamp": number or isinstance(value, (str, datetime)),
        "blob": isinstance(value, (str, bytes)),
    }
    return shape.type_name if fits.get(shape.type_name, False) else type(value).__name__


def _compare(shape: Shape, expected: Any, actual: Any, path: str, walk: _Walk) -> None:
    want, got = kind_of(shape, expected), kind_of(shape, actual)
    if want != shape.type_name or got != shape.type_name:
        walk.found.append(
            f"{path or '$'}: type: the example has {want}, Flare {got} ({shape.name} is a {shape.type_name})"
        )
        return
    name = path.rsplit(".", 1)[-1]
    if shape.type_name == "structure":
        assert isinstance(shape, StructureShape)
        _compare_members(shape, expected, actual, path, walk)
    elif shape.type_name == "list":
        assert isinstance(shape, ListShape)
        _compare_items(shape.member, expected, actual, path, walk)
    elif shape.type_name == "map":
        assert isinstance(shape, MapShape)
        _compare_map(shape.value, expected, actual, path, walk)
    elif name in GENERATED or shape.type_name == "timestamp":
        return
    elif name in JSON_DOCUMENTS and _documents(expected, actual):
        _compare_json(json.loads(expected), json.loads(actual), path, walk)
    elif shape.type_name == "blob":
        _compare_value(_bytes(expected), _bytes(actual), path, walk)
    else:
        _compare_value(expected, actual, path, walk)


def _compare_members(
    shape: StructureShape, expected: dict[str, Any], actual: dict[str, Any], path: str, walk: _Walk
) -> None:
    added = walk.added_since.get(shape.name, {})
    for key in expected:
        if key not in actual and not walk.allows(_join(path, key), "absent"):
            walk.found.append(f"{_join(path, key)}: missing: the example has {_show(expected[key])}")
    for key in actual:
        if key in expected or key in added or walk.allows(_join(path, key), "added"):
            continue
        walk.found.append(
            f"{_join(path, key)}: extra: Flare answers {_show(actual[key])}, the example has no {key}"
        )
    for key in expected.keys() & actual.keys():
        member = shape.members.get(key)
        if member is None:
            walk.found.append(f"{_join(path, key)}: the model's {shape.name} has no {key}")
        else:
            _compare(member, expected[key], actual[key], _join(path, key), walk)


def _compare_items(member: Shape, expected: list[Any], actual: list[Any], path: str, walk: _Walk) -> None:
    if walk.allows(path or "$", "order"):
        actual = _in_order_of(expected, actual)
    if len(expected) != len(actual) and not walk.allows(path or "$", "length"):
        walk.found.append(f"{path or '$'}: length: the example lists {len(expected)}, Flare {len(actual)}")
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        _compare(member, want, got, f"{path}[{index}]", walk)


def _compare_map(
    value: Shape, expected: dict[str, Any], actual: dict[str, Any], path: str, walk: _Walk
) -> None:
    for key in expected.keys() - actual.keys():
        if not walk.allows(_join(path, key), "absent"):
            walk.found.append(f"{_join(path, key)}: missing: the example has {_show(expected[key])}")
    for key in actual.keys() - expected.keys():
        if not walk.allows(_join(path, key), "added"):
            walk.found.append(f"{_join(path, key)}: extra: Flare answers {_show(actual[key])}")
    for key in sorted(expected.keys() & actual.keys()):
        _compare(value, expected[key], actual[key], _join(path, key), walk)


def _in_order_of(expected: list[Any], actual: list[Any]) -> list[Any]:
    """``actual``'s items in the order of the ``expected`` items with the same identity (the
    first of ``IDENTITIES`` they have); items without a match keep their order, last."""

    def identity(item: Any) -> Any:
        return next((item[key] for key in IDENTITIES if isinstance(item, dict) and key in item), None)

    rank = {identity(item): index for index, item in enumerate(expected)}
    return sorted(actual, key=lambda item: rank.get(identity(item), len(rank)))


def _compare_json(expected: Any, actual: Any, path: str, walk: _Walk) -> None:
    """Two JSON values (documents held in strings), compared as values."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected.keys() - actual.keys():
            if not walk.allows(_join(path, key), "absent"):
                walk.found.append(f"{_join(path, key)}: missing: the example has {_show(expected[key])}")
        for key in actual.keys() - expected.keys():
            if not walk.allows(_join(path, key), "added"):
                walk.found.append(f"{_join(path, key)}: extra: Flare answers {_show(actual[key])}")
        for key in expected.keys() & actual.keys():
            _compare_json(expected[key], actual[key], _join(path, key), walk)
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual) and not walk.allows(path or "$", "length"):
            walk.found.append(
                f"{path or '$'}: length: the example lists {len(expected)}, Flare {len(actual)}"
            )
        for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
            _compare_json(want, got, f"{path}[{index}]", walk)
    else:
        _compare_value(expected, actual, path, walk)


def _compare_value(expected: Any, actual: Any, path: str, walk: _Walk) -> None:
    if expected != actual and not walk.allows(path or "$", "value"):
        walk.found.append(f"{path or '$'}: value: the example has {_show(expected)}, Flare {_show(actual)}")


def _documents(expected: Any, actual: Any) -> bool:
    try:
        json.loads(expected)
        json.loads(actual)
    except (TypeError, ValueError):
        return False
    return True


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
