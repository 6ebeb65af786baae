"""Tags: TagResource, UntagResource and ListTags on every taggable Lambda resource Flare has.

A taggable resource is named by its ARN (``/2017-03-31/tags/{ARN}``): a function (unqualified;
tags belong to the function, never to a version or alias), a code signing config or an event
source mapping. Each kind keeps its tags with the resource itself (so they go when it goes) and
lends them to ``Tagging`` through a ``TagBackend``. Capacity providers and network connectors
are taggable on AWS but do not exist in Flare: their ARNs are always not found.

Limits as AWS: at most 50 tags per resource (``TOO_MANY_TAGS``, also on CreateFunction), keys
starting with ``aws:`` (any case) are reserved, TagResource with no tags is refused. Key and
value lengths and patterns are the model's (checked before a handler runs). The functions above
``Tagging`` are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flare.errors import InvalidParameterValue, ResourceNotFound

MAX_TAGS = 50
TOO_MANY_TAGS = "Number of tags exceeds resource tag limit."
NO_TAGS = "An error occurred and the request cannot be processed."
QUALIFIED_FUNCTION = "Tags on function aliases and versions are not supported. Please specify a function ARN."
RESERVED_PREFIX = "aws:"
RESERVED_KEY = "Tag keys starting with 'aws:' are reserved for internal use."
FUNCTION = "function"
CODE_SIGNING_CONFIG = "code-signing-config"
EVENT_SOURCE_MAPPING = "event-source-mapping"
ABSENT_KINDS = {"capacity-provider": "Capacity provider", "network-connector": "Network connector"}


@dataclass(frozen=True)
class ResourceArn:
    """A taggable ARN taken apart: ``kind`` (``function``, ``code-signing-config``...), the
    resource's id (a function name, ``csc-...``, a UUID) and, for functions, a qualifier."""

    arn: str
    kind: str
    resource_id: str
    qualifier: str | None = None


def parse_resource(arn: str) -> ResourceArn:
    """Split a Lambda resource ARN; InvalidParameterValue when it is not one."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda" or not parts[6]:
        raise InvalidParameterValue(f"The resource ARN {arn} is not a taggable Lambda resource.")
    qualifier = parts[7] if len(parts) > 7 else None
    if len(parts) > 8 or (qualifier is not None and parts[5] != FUNCTION):
        raise InvalidParameterValue(f"The resource ARN {arn} is not a taggable Lambda resource.")
    return ResourceArn(arn, parts[5], parts[6], qualifier)


def check_new(current: Mapping[str, str], added: object) -> dict[str, str]:
    """``current`` with ``added`` (a JSON object of strings) merged in, within AWS's limits.
    Raises InvalidParameterValue (reserved ``aws:`` key, more than 50 tags)."""
    if not isinstance(added, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in added.items()
    ):
        raise InvalidParameterValue("Tags must map strings to strings.")
    if any(key.lower().startswith(RESERVED_PREFIX) for key in added):
        raise InvalidParameterValue(RESERVED_KEY)
    merged = {**current, **added}
    if len(merged) > MAX_TAGS:
        raise InvalidParameterValue(TOO_MANY_TAGS)
    return merged


def without(current: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """``current`` less ``keys`` (keys it does not have are ignored, as on AWS)."""
    gone = set(keys)
    return {key: value for key, value in current.items() if key not in gone}


class TagBackend(Protocol):
    """One kind of taggable resource. Both methods raise ResourceNotFound with AWS's message
    for that kind when ``resource`` does not exist."""

    def tags(self, resource: ResourceArn) -> dict[str, str]: ...

    def replace_tags(self, resource: ResourceArn, tags: Mapping[str, str]) -> None: ...


class Tagging:
    """The three tag operations, dispatched on the ARN's kind to that kind's backend."""

    def __init__(self, backends: Mapping[str, TagBackend]) -> None:
        self._backends = dict(backends)

    def __repr__(self) -> str:
        return f"<Tagging {sorted(self._backends)}>"

    def list_tags(self, arn: str) -> dict[str, Any]:
        """ListTags' body. Raises InvalidParameterValue, ResourceNotFound."""
        resource, backend = self._resolve(arn)
        return {"Tags": backend.tags(resource)}

    def tag(self, arn: str, body: Mapping[str, Any]) -> None:
        """TagResource: add or overwrite ``body["Tags"]``. Raises InvalidParameterValue,
        ResourceNotFound."""
        resource, backend = self._resolve(arn)
        added = body.get("Tags")
        if not added:
            raise InvalidParameterValue(NO_TAGS)
        backend.replace_tags(resource, check_new(backend.tags(resource), added))

    def untag(self, arn: str, keys: Iterable[str]) -> None:
        """UntagResource: drop ``keys``. Raises InvalidParameterValue, ResourceNotFound."""
        resource, backend = self._resolve(arn)
        current = backend.tags(resource)
        remaining = without(current, keys)
        if remaining != current:
            backend.replace_tags(resource, remaining)

    def _resolve(self, arn: str) -> tuple[ResourceArn, TagBackend]:
        resource = parse_resource(arn)
        if resource.kind == FUNCTION and resource.qualifier is not None:
            raise InvalidParameterValue(QUALIFIED_FUNCTION)
        backend = self._backends.get(resource.kind)
        if backend is None:
            label = ABSENT_KINDS.get(resource.kind)
            if label is None:
                raise InvalidParameterValue(f"The resource ARN {arn} is not a taggable Lambda resource.")
            raise ResourceNotFound(f"{label} not found: {arn}")
        return resource, backend


class _FunctionTagStore(Protocol):
    def tags(self, function_name: str) -> dict[str, str]: ...

    def replace_tags(self, function_name: str, new_tags: Mapping[str, str]) -> None: ...


class FunctionTags:
    """The ``TagBackend`` of functions: their tags live on the function (``Registry``)."""

    def __init__(self, registry: _FunctionTagStore) -> None:
        self._registry = registry

    def tags(self, resource: ResourceArn) -> dict[str, str]:
        return self._registry.tags(resource.arn)

    def replace_tags(self, resource: ResourceArn, tags: Mapping[str, str]) -> None:
        self._registry.replace_tags(resource.arn, tags)
