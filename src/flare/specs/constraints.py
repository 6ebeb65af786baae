"""Checking a request's input against its service model's constraints, in AWS's words.

AWS's front end validates every request against the operation's model before the operation
runs: each member's ``required``, ``min``/``max`` (lengths of strings, lists, maps and blobs;
values of numbers), ``pattern`` and ``enum``. A failure is one 400 ``ValidationException`` whose
message lists every violation::

    2 validation errors detected: Value 'my-function!' at 'functionName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: ...; Value null at 'role' failed
    to satisfy constraint: Member must not be null

Members are named by their path in lowerCamelCase (``environment.variables``; a structure in a
list as ``logEvents.1.member.timestamp``), values as Java prints them (``[a, b]``, ``{k=v}``,
``null``). A scalar list element or map key/value that breaks a constraint is reported at the
list or map, with every constraint of the element listed ("Member must satisfy constraint:
[...]", "Map keys must satisfy constraint: [...]").

A value of the wrong JSON type cannot be bound to the model at all; AWS refuses the body
before validating it (``InvalidRequestContentException``), and so does ``check``.

Patterns are Java regular expressions matched against the whole value. The one construct
Python's ``re`` lacks, the Unicode classes ``\\p{L}``, ``\\p{N}`` and ``\\p{Z}``, is read as
``\\w``, ``\\d`` and ``\\s`` (a class of letters also takes digits and ``_``; of separators, tabs).
All functions here are pure.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Collection, Iterator
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from flare.errors import InvalidRequestContent, ValidationFailed

UNPARSEABLE = "Could not parse request body into json: "
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\d", r"\p{Z}": r"\s"}
_NUMBER_TYPES = ("integer", "long", "double", "float")
_CLASS_THEN_DASH = re.compile(r"(\\[wdsWDS])-")


@functools.cache
def compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` (Java syntax, from a model) as a Python regular expression."""
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    # Java reads a '-' after a class escape in brackets ([\w-_]) as itself; Python refuses it
    return re.compile(_CLASS_THEN_DASH.sub(r"\1\\-", pattern))


def member_path(parent: str, member: str) -> str:
    """AWS's name for ``member`` under ``parent``: ``Environment`` → ``environment``,
    ``Variables`` under it → ``environment.variables``."""
    name = member[:1].lower() + member[1:]
    return f"{parent}.{name}" if parent else name


def render(value: object) -> str:
    """``value`` as AWS's messages print it (Java's ``toString``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={render(item)}" for key, item in value.items()) + "}"
    return str(value)


def _size(shape: Shape, value: object) -> int | None:
    """What ``min``/``max`` measure for ``value``: a length, or the number itself."""
    if shape.type_name == "blob" and isinstance(value, str):
        try:
            return len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            return len(value)
    if isinstance(value, str | list | dict | bytes):
        return len(value)
    return None


def rules(shape: Shape) -> list[str]:
    """Every constraint of ``shape``, worded as AWS lists them inside ``[...]``."""
    found: list[str] = []
    meta = shape.metadata
    numeric = shape.type_name in _NUMBER_TYPES
    if "max" in meta:
        found.append(
            f"Member must have value less than or equal to {meta['max']}"
            if numeric
            else f"Member must have length less than or equal to {meta['max']}"
        )
    if "min" in meta:
        found.append(
            f"Member must have value greater than or equal to {meta['min']}"
            if numeric
            else f"Member must have length greater than or equal to {meta['min']}"
        )
    if "pattern" in meta:
        found.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    enum = getattr(shape, "enum", None)
    if enum:
        found.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
    return found


def _broken(shape: Shape, value: object) -> Iterator[str]:
    """The constraints of ``shape`` that ``value`` (of the right type, not None) breaks."""
    meta = shape.metadata
    if shape.type_name in _NUMBER_TYPES:
        assert isinstance(value, int | float)
        if "max" in meta and value > meta["max"]:
            yield f"Member must have value less than or equal to {meta['max']}"
        if "min" in meta and value < meta["min"]:
            yield f"Member must have value greater than or equal to {meta['min']}"
        return
    size = _size(shape, value)
    if size is not None and "max" in meta and size > meta["max"]:
        yield f"Member must have length less than or equal to {meta['max']}"
    if size is not None and "min" in meta and size < meta["min"]:
        yield f"Member must have length greater than or equal to {meta['min']}"
    if isinstance(value, str) and "pattern" in meta and not compiled(meta["pattern"]).fullmatch(value):
        yield f"Member must satisfy regular expression pattern: {meta['pattern']}"
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        yield f"Member must satisfy enum value set: [{', '.join(enum)}]"


def _failure(value: object, path: str, rule: str) -> str:
    shown = "null" if value is None else f"'{render(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {rule}"


def _bound(shape: Shape, value: object) -> object:
    """``value`` as AWS's front end holds it once bound: an element outside its enum is null."""
    enum = getattr(shape, "enum", None)
    return None if enum and value not in enum else value


def _element_fails(shape: Shape, value: object) -> bool:
    return value is None or any(_broken(shape, value)) or bool(violations(shape, value, "x"))


def violations(shape: Shape, value: object, path: str) -> list[str]:
    """Every constraint ``value`` breaks, as AWS words each one (without the count prefix).

    ``value`` must already have the types the model asks for (see ``type_errors``).
    """
    if value is None:
        return []
    found = [_failure(value, path, rule) for rule in _broken(shape, value)]
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            item = value.get(name)
            child = member_path(path, name)
            if item is None and name in shape.required_members:
                found.append(_failure(None, child, "Member must not be null"))
            found += violations(member, item, child)
    elif (
        isinstance(shape, ListShape) and isinstance(value, list) and isinstance(shape.member, StructureShape)
    ):
        for index, item in enumerate(value):
            found += violations(shape.member, item, f"{path}.{index + 1}.member")
    elif isinstance(shape, ListShape) and isinstance(value, list):
        if any(_element_fails(shape.member, item) for item in value):
            listed = ", ".join([*rules(shape.member), "Member must not be null"])
            shown = [_bound(shape.member, item) for item in value]
            found.append(_failure(shown, path, f"Member must satisfy constraint: [{listed}]"))
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        if any(_element_fails(shape.key, key) for key in value):
            listed = ", ".join(rules(shape.key))
            found.append(_failure(value, path, f"Map keys must satisfy constraint: [{listed}]"))
        if any(_element_fails(shape.value, item) for item in value.values()):
            listed = ", ".join([*rules(shape.value), "Member must not be null"])
            found.append(_failure(value, path, f"Map value must satisfy constraint: [{listed}]"))
    return found


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str, bytes),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "double": (int, float),
    "float": (int, float),
    "timestamp": (int, float, str),
    "structure": (dict,),
    "list": (list,),
    "map": (dict,),
}


def type_errors(shape: Shape, value: object, path: str) -> list[str]:
    """Where ``value`` (parsed JSON) does not have the type the model gives ``shape``."""
    if value is None:
        return []
    expected = _JSON_TYPES.get(shape.type_name, (object,))
    wrong_bool = isinstance(value, bool) and bool not in expected
    if wrong_bool or not isinstance(value, expected):
        return [f"the value at '{path}' must be of type {shape.type_name}, not {type(value).__name__}"]
    found: list[str] = []
    if isinstance(shape, StructureShape):
        assert isinstance(value, dict)
        for name, member in shape.members.items():
            found += type_errors(member, value.get(name), member_path(path, name))
    elif isinstance(shape, ListShape):
        assert isinstance(value, list)
        for index, item in enumerate(value):
            found += type_errors(shape.member, item, f"{path}.{index + 1}.member")
    elif isinstance(shape, MapShape):
        assert isinstance(value, dict)
        for key, item in value.items():
            found += type_errors(shape.value, item, f"{path}.{key}")
    return found


def check(shape: StructureShape, params: dict[str, Any], exempt: Collection[str] = ()) -> None:
    """Raise unless ``params`` (an operation's input, member names as keys) fits ``shape``.

    Raises InvalidRequestContent when a value has the wrong JSON type, ValidationFailed
    (AWS's ``ValidationException``) listing every broken constraint otherwise. The top-level
    members named in ``exempt`` are type-checked only: the service checks their values itself,
    in its own words.
    """
    wrong = type_errors(shape, params, "")
    if wrong:
        raise InvalidRequestContent(UNPARSEABLE + wrong[0])
    found = violations(shape, {key: value for key, value in params.items() if key not in exempt}, "")
    if found:
        noun = "error" if len(found) == 1 else "errors"
        raise ValidationFailed(f"{len(found)} validation {noun} detected: " + "; ".join(found))
