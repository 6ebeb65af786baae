"""Is an HTTP answer one that botocore's model allows? A pure checker for rest-json answers.

``violations(operation, answer)`` takes an operation of a botocore service model and one raw HTTP
answer (status, headers, body bytes) and lists every way the answer breaks the model, each as
one readable line starting with the JSON path it is about (``$.Configuration.Layers[0].Arn``).

A successful answer (status below 300):

* its status is the operation's ``responseCode`` (200 when the model gives none), except where
  the output has a ``location: statusCode`` member (Invoke, InvokeAsync, DeleteFunction): that
  member *is* the status, so any 2xx is allowed;
* members with ``location: header`` arrive as headers, parse as their type, and never appear
  in the body;
* the body is the JSON object of the output's body members (or, for a blob ``payload``, raw
  bytes that are not checked; an operation without output answers an empty body): no key the
  shape does not have, no ``null``, every ``required`` member present, and every value of the
  JSON type rest-json uses for its shape: ``string`` a string (and one of the ``enum`` when the
  shape has one, but for the values AWS itself answers outside it, ``AWS_OUTSIDE_ENUM``),
  ``integer``/``long`` an integer, ``float``/``double`` a number, ``boolean`` true/false,
  ``list`` an array, ``map`` an object of string keys, ``structure`` an object,
  ``blob`` a base64 string, ``timestamp`` epoch seconds (a number) unless the member's
  ``timestampFormat`` says ``iso8601``/``rfc822`` (a string). String shapes named
  ``Timestamp`` are strings like any other.

An error answer (status 300 or more):

* ``x-amzn-ErrorType`` names the error (``Code`` or ``Code:extra``);
* the error is one the operation models, or one AWS's front end answers for any operation
  (``FRONT_END_ERRORS``); never the catch-all of an operation the service does not know;
* its status is the error shape's ``httpStatusCode`` (``FRONT_END_ERRORS`` for the others);
* the body is a JSON object of the error shape's members, typed as above. AWS writes the
  message under the spelling the shape has (``message`` or ``Message``); a body carrying it
  under both spellings is allowed (``BOTH_MESSAGE_SPELLINGS``) since every client reads either.

Nothing here does I/O; ``violations`` never raises for a malformed answer, it reports it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StringShape, StructureShape

# Errors AWS's front end answers for any operation, with their statuses: the Common Errors of
# Lambda's API reference, the ValidationException Lambda answers for input that breaks the model,
# and the SigV4 refusals REST services answer. UnknownOperationException (404) is left out on
# purpose: an operation of the model is never unknown, so that answer means it is not served.
FRONT_END_ERRORS = {
    "AccessDeniedException": 403,
    "ExpiredTokenException": 403,
    "IncompleteSignature": 403,
    "InternalFailure": 500,
    "MalformedHttpRequestException": 400,
    "NotAuthorized": 401,
    "OptInRequired": 403,
    "RequestAbortedException": 400,
    "RequestEntityTooLargeException": 413,
    "RequestExpired": 400,
    "RequestTimeoutException": 408,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
    "UnrecognizedClientException": 403,
    "ValidationError": 400,
    "ValidationException": 400,
    "InvalidSignatureException": 403,
    "IncompleteSignatureException": 403,
    "MissingAuthenticationTokenException": 403,
}
BOTH_MESSAGE_SPELLINGS = frozenset({"message", "Message"})
# Values AWS itself answers outside a member's enum (its recorded answers), so not violations.
AWS_OUTSIDE_ENUM = {
    (
        "LastUpdateStatusReasonCode",
        "Creating",
    ): "AWS answers updates with LastUpdateStatusReasonCode 'Creating'",
}


@dataclass(frozen=True)
class Answer:
    """One raw HTTP answer. ``body`` is None when it was streamed to the caller unread."""

    status: int
    headers: Mapping[str, str]
    body: bytes | None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)


def violations(operation: OperationModel, answer: Answer) -> list[str]:
    """Every way ``answer`` breaks ``operation``'s model (empty when it conforms)."""
    if answer.status >= 300:
        return _error_violations(operation, answer)
    return _output_violations(operation, answer)


def _output_violations(operation: OperationModel, answer: Answer) -> list[str]:
    found: list[str] = []
    shape = operation.output_shape
    members = shape.members if isinstance(shape, StructureShape) else {}
    by_status = any(member.serialization.get("location") == "statusCode" for member in members.values())
    expected = operation.http.get("responseCode", 200)
    if by_status and not 200 <= answer.status < 300:
        found.append(f"status {answer.status}: the output's StatusCode member takes a 2xx status")
    elif not by_status and answer.status != expected:
        found.append(f"status {answer.status}: the model's responseCode is {expected}")
    if not isinstance(shape, StructureShape):
        if answer.body:
            found.append(f"$: the operation has no output, yet the body is {_excerpt(answer.body)}")
        return found
    found += _header_violations(shape, answer)
    payload = shape.serialization.get("payload")
    if payload is not None and members[payload].type_name == "blob":
        return found  # a raw payload: bytes of the function's, nothing to check
    if answer.body is None:
        return found
    body_shape = members[payload] if payload is not None else shape
    return found + _body_violations(body_shape, answer.body, payload is None)


def _header_violations(shape: StructureShape, answer: Answer) -> list[str]:
    found = []
    for name, member in shape.members.items():
        if member.serialization.get("location") != "header":
            continue
        wire = member.serialization.get("name", name)
        value = answer.header(wire)
        if value is not None and not _header_value_ok(member, value):
            found.append(f"header {wire}: {value!r} is not a {member.type_name} ({name})")
    return found


def _header_value_ok(shape: Shape, value: str) -> bool:
    kind = shape.type_name
    if kind in ("integer", "long"):
        return value.lstrip("-").isdigit()
    if kind in ("float", "double"):
        try:
            float(value)
        except ValueError:
            return False
        return True
    if kind == "boolean":
        return value in ("true", "false")
    if isinstance(shape, StringShape) and shape.enum:
        return value in shape.enum
    return True


def _body_violations(shape: Shape, body: bytes, only_body_members: bool) -> list[str]:
    if not body.strip():
        body_members = _body_members(shape) if isinstance(shape, StructureShape) else {}
        required = [name for name in getattr(shape, "required_members", ()) if name in body_members]
        return [f"$: an empty body lacks the required {name}" for name in required]
    try:
        document = json.loads(body)
    except ValueError:
        return [f"$: the body is not JSON: {_excerpt(body)}"]
    if only_body_members and isinstance(shape, StructureShape):
        return _structure_violations(shape, document, "$", _body_members(shape))
    return value_violations(shape, document, "$")


def _body_members(shape: StructureShape) -> dict[str, Shape]:
    return {
        member.serialization.get("name", name): member
        for name, member in shape.members.items()
        if not member.serialization.get("location")
    }


def value_violations(shape: Shape, value: Any, path: str) -> list[str]:
    """Every way the JSON ``value`` at ``path`` is not what rest-json writes for ``shape``."""
    kind = shape.type_name
    if value is None:
        return [f"{path}: null where the model has a {kind} ({shape.name}); AWS leaves absent members out"]
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _structure_violations(shape, value, path, _body_members(shape))
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            return [_wrong(path, value, "an array", shape)]
        return [
            line
            for index, item in enumerate(value)
            for line in value_violations(shape.member, item, f"{path}[{index}]")
        ]
    if kind == "map":
        assert isinstance(shape, MapShape)
        return _map_violations(shape, value, path)
    return _scalar_violations(shape, value, path)


def _structure_violations(
    shape: StructureShape, value: Any, path: str, members: dict[str, Shape]
) -> list[str]:
    if not isinstance(value, dict):
        return [_wrong(path, value, "an object", shape)]
    found = []
    for key, item in value.items():
        member = members.get(key)
        located = shape.members.get(key)
        if member is None and located is not None:
            location = located.serialization.get("location")
            found.append(f"{path}.{key}: a member with location '{location}' is in the body")
        elif member is None:
            found.append(f"{path}.{key}: a member {shape.name} does not have")
        else:
            found += value_violations(member, item, f"{path}.{key}")
    for name in shape.required_members:
        wire = shape.members[name].serialization.get("name", name)
        if wire in members and wire not in value:
            found.append(f"{path}.{wire}: required by {shape.name}, missing")
    return found


def _map_violations(shape: MapShape, value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [_wrong(path, value, "an object", shape)]
    found = []
    for key, item in value.items():
        found += _scalar_violations(shape.key, key, f"{path}<key {key!r}>")
        found += value_violations(shape.value, item, f"{path}[{key!r}]")
    return found


def _scalar_violations(shape: Shape, value: Any, path: str) -> list[str]:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            return [_wrong(path, value, "a string", shape)]
        enum = getattr(shape, "enum", None)
        if enum and value not in enum and (shape.name, value) not in AWS_OUTSIDE_ENUM:
            return [f"{path}: {value!r} is not one of {shape.name}'s values {list(enum)}"]
        return []
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [_wrong(path, value, "an integer", shape)]
    if kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [_wrong(path, value, "a number", shape)]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [_wrong(path, value, "true or false", shape)]
    if kind == "timestamp":
        return _timestamp_violations(shape, value, path)
    if kind == "blob":
        return _blob_violations(shape, value, path)
    return [f"{path}: the checker does not know the model type {kind!r} ({shape.name})"]


def _timestamp_violations(shape: Shape, value: Any, path: str) -> list[str]:
    form = shape.serialization.get("timestampFormat", "unixTimestamp")
    if form == "unixTimestamp":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [_wrong(path, value, "epoch seconds (a number)", shape)]
    return [] if isinstance(value, str) else [_wrong(path, value, f"a {form} string", shape)]


def _blob_violations(shape: Shape, value: Any, path: str) -> list[str]:
    if not isinstance(value, str):
        return [_wrong(path, value, "a base64 string", shape)]
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        return [_wrong(path, value, "a base64 string", shape)]
    return []


def _error_violations(operation: OperationModel, answer: Answer) -> list[str]:
    kind = answer.header("x-amzn-ErrorType")
    if not kind:
        return [f"status {answer.status}: an error answer without x-amzn-ErrorType"]
    code = kind.split(":", 1)[0]
    modeled = {shape.name: shape for shape in operation.error_shapes}
    found = []
    if code in modeled:
        error = modeled[code]
        assert isinstance(error, StructureShape)  # every modeled error is a structure
        status = error.metadata.get("error", {}).get("httpStatusCode")
        if status is not None and answer.status != status:
            found.append(f"status {answer.status}: the model gives {code} the status {status}")
        found += _error_body_violations(error, answer.body)
    elif code in FRONT_END_ERRORS:
        if answer.status != FRONT_END_ERRORS[code]:
            found.append(
                f"status {answer.status}: AWS's front end answers {code} with {FRONT_END_ERRORS[code]}"
            )
    else:
        found.append(f"x-amzn-ErrorType {code}: not an error of {operation.name} ({sorted(modeled)})")
    return found


def _error_body_violations(shape: StructureShape, body: bytes | None) -> list[str]:
    if not body or not body.strip():
        return []
    try:
        document = json.loads(body)
    except ValueError:
        return [f"$: the error body is not JSON: {_excerpt(body)}"]
    members = _body_members(shape)
    spelled = next((name for name in BOTH_MESSAGE_SPELLINGS if name in members), None)
    if spelled is not None and isinstance(document, dict):
        for other in BOTH_MESSAGE_SPELLINGS - {spelled}:
            if other in document:
                members = {**members, other: members[spelled]}
    return _structure_violations(shape, document, "$", members)


def _wrong(path: str, value: Any, expected: str, shape: Shape) -> str:
    return f"{path}: {_excerpt(json.dumps(value))} is not {expected} ({shape.name} is a {shape.type_name})"


def _excerpt(data: bytes | str, limit: int = 80) -> str:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return text if len(text) <= limit else text[:limit] + "…"
