"""botocore's service models, loaded once, and the operation table of a REST service.

boto3 builds every request from these models, so they say exactly what arrives: for each
operation of a ``rest-json`` service, its method and URI template (path labels such as
``{FunctionName}``, and sometimes a literal query such as ``?List=ALL`` that tells two
operations on one path apart) and where each input member travels: a path label, a query
parameter, a header, or the JSON body (or, for ``Invoke``, the raw body as the payload).

``RestOperations.match`` finds the operation a request is for; ``RestOperation.read_input``
turns the request's parts back into the operation's input (member names as keys, values of the
model's types), which ``constraints.check`` then validates. Nothing here touches aiohttp.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from flare.errors import InvalidRequestContent, ValidationFailed

TOO_DEEP_MESSAGE = "Could not parse request body into json: the document is nested too deeply"
_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@functools.cache
def service_model(service: str) -> ServiceModel:
    """The newest model of ``service`` that the installed botocore ships."""
    return ServiceModel(Loader().load_service_model(service, "service-2"), service_name=service)


def enum_of(service: str, shape: str) -> tuple[str, ...]:
    """The values of the string enum ``shape`` in ``service``'s model, in the model's order."""
    return tuple(getattr(service_model(service).shape_for(shape), "enum", ()))


def _scalar(shape: Shape, text: str, path: str) -> object:
    """A query or header value as the model's type; raises ValidationFailed if it is not one."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("double", "float"):
            return float(text)
    except ValueError:
        raise ValidationFailed(
            f"1 validation error detected: Value '{text}' at '{path}' failed to satisfy constraint: "
            f"Member must be a number"
        ) from None
    if kind == "boolean":
        return text.lower() == "true"
    return text


@dataclass(frozen=True)
class RestOperation:
    """One operation of a REST service: how to recognise its requests and read their input."""

    model: OperationModel
    method: str
    path: re.Pattern[str]
    labels: tuple[str, ...]  # the input member behind each path group, in order
    literal_query: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return str(self.model.name)

    @property
    def input_shape(self) -> StructureShape | None:
        shape = self.model.input_shape
        return shape if isinstance(shape, StructureShape) else None

    @property
    def payload_member(self) -> str | None:
        """The member that is the whole raw body (``Invoke``'s ``Payload``), if any."""
        shape = self.input_shape
        return None if shape is None else shape.serialization.get("payload")

    @property
    def reads_raw_body(self) -> bool:
        """True when the body is a blob payload: the operation reads (and limits) it itself."""
        member = self.payload_member
        return (
            member is not None
            and self.input_shape is not None
            and (self.input_shape.members[member].type_name == "blob")
        )

    def read_input(
        self,
        labels: Mapping[str, str],
        query: Any,
        headers: Mapping[str, str],
        body: bytes | None,
        unread_body: bool = False,
    ) -> dict[str, Any]:
        """The operation's input from a request's parts (``query`` has ``get``/``getall``).

        ``body`` is None when the caller does not read it (a blob payload); ``unread_body`` then
        says whether the request has one (the payload member is given, as ``b""``). Raises
        InvalidRequestContent for a body that is not a JSON object, ValidationFailed for a query
        or header value that is not of its member's type.
        """
        shape = self.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        from_body: dict[str, Shape] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "uri" and name in labels:
                params[name] = _scalar(member, labels[name], name[:1].lower() + name[1:])
            elif location == "querystring":
                _read_query(params, name, member, wire, query)
            elif location == "header":
                value = headers.get(wire)
                if value is not None:
                    params[name] = _scalar(member, value, name[:1].lower() + name[1:])
            elif location is None and name != self.payload_member:
                from_body[name] = member
        payload = self.payload_member
        if payload is not None and self.reads_raw_body and unread_body:
            params[payload] = b""
        elif payload is not None and not self.reads_raw_body and body:
            params[payload] = _json_object(body)
        elif from_body and body:
            document = _json_object(body)
            for name, member in from_body.items():
                wire = member.serialization.get("name", name)
                if wire in document:
                    params[name] = document[wire]
        return params


def _read_query(params: dict[str, Any], name: str, member: Shape, wire: str, query: Any) -> None:
    if member.type_name == "list":
        values = query.getall(wire, [])
        if values:
            params[name] = values
        return
    value = query.get(wire)
    if value is not None:
        params[name] = _scalar(member, value, name[:1].lower() + name[1:])


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except ValueError as error:
        raise InvalidRequestContent(f"Could not parse request body into json: {error}") from None
    except RecursionError:  # nested deeper than the parser's stack
        raise InvalidRequestContent(TOO_DEEP_MESSAGE) from None
    if not isinstance(document, dict):
        raise InvalidRequestContent("Could not parse request body into json: expected an object")
    return document


def _rest_operation(model: OperationModel) -> RestOperation:
    http = model.http
    path, _, literal = http["requestUri"].partition("?")
    pattern, labels, position = "", [], 0
    label_members = {
        member.serialization.get("name", name): name
        for name, member in (model.input_shape.members.items() if model.input_shape else ())
        if member.serialization.get("location") == "uri"
    }
    for found in _LABEL.finditer(path):
        pattern += re.escape(path[position : found.start()])
        pattern += "(.+)" if found.group(2) else "([^/]+)"
        labels.append(label_members.get(found.group(1), found.group(1)))
        position = found.end()
    pattern += re.escape(path[position:].rstrip("/")) + "/?"
    query = tuple(
        (key, value) for key, _, value in (item.partition("=") for item in literal.split("&") if item)
    )
    return RestOperation(model, http["method"], re.compile(pattern), tuple(labels), query)


class RestOperations:
    """Every operation of one REST service model, found by method, path and query."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        operations = [_rest_operation(model.operation_model(name)) for name in model.operation_names]
        # a literal query is more specific than none: try those first
        operations.sort(key=lambda operation: -len(operation.literal_query))
        self._by_method: dict[str, list[RestOperation]] = {}
        self._by_name = {operation.name: operation for operation in operations}
        for operation in operations:
            self._by_method.setdefault(operation.method, []).append(operation)

    def __repr__(self) -> str:
        return f"<RestOperations {self.model.service_name} {len(self._by_name)}>"

    def __getitem__(self, name: str) -> RestOperation:
        return self._by_name[name]

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def match(
        self, method: str, raw_path: str, query: Mapping[str, str]
    ) -> tuple[RestOperation, dict[str, str]] | None:
        """The operation a request is for and its path labels (URL-decoded), or None.

        ``raw_path`` is the path as sent (still percent-encoded), so a label holding an encoded
        ``/`` stays one label.
        """
        for operation in self._by_method.get(method, ()):
            found = operation.path.fullmatch(raw_path)
            if found is None:
                continue
            if any(query.get(key) != value for key, value in operation.literal_query):
                continue
            values = (unquote(value) for value in found.groups())
            return operation, dict(zip(operation.labels, values, strict=True))
        return None


@functools.cache
def rest_operations(service: str) -> RestOperations:
    """The operation table of a ``rest-json`` service (``lambda``), built once."""
    return RestOperations(service_model(service))
