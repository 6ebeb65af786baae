"""Layer names and ARNs: parsing what clients send, building what Flare answers.

A layer is named by its name (``my-layer``) or its ARN
(``arn:aws:lambda:us-east-1:123456789012:layer:my-layer``); a layer *version* by the ARN with
its number (``...:layer:my-layer:3``). Request validation from the service model rejects other
shapes before an operation runs; the parsers here still refuse them (InvalidParameterValue)
rather than guess. All functions here are pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flare.errors import InvalidParameterValue

_REGION = r"(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d)"
_LAYER_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:" + _REGION + r":(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9-_]+)"
)
_VERSION = re.compile(r":(?P<version>[0-9]+)")
_NAME = re.compile(r"[a-zA-Z0-9-_]{1,140}")


@dataclass(frozen=True)
class LayerName:
    """Where a layer lives and what it is called."""

    region: str
    account: str
    name: str


@dataclass(frozen=True)
class LayerVersionRef:
    """One version of a layer, as a layer version ARN names it."""

    layer: LayerName
    version: int


def layer_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:layer:{name}"


def layer_version_arn(region: str, account: str, name: str, version: int) -> str:
    return f"{layer_arn(region, account, name)}:{version}"


def parse_layer_name(value: str, region: str, account: str) -> LayerName:
    """The layer ``value`` (a name, or a layer ARN) names; a bare name is in ``region`` and
    ``account``. Raises InvalidParameterValue for anything else."""
    match = _LAYER_ARN.fullmatch(value)
    if match is not None:
        return LayerName(match["region"], match["account"], match["name"])
    if _NAME.fullmatch(value):
        return LayerName(region, account, value)
    raise InvalidParameterValue(f"Invalid layer name or ARN: {value}")


def parse_layer_version_arn(value: str) -> LayerVersionRef:
    """The layer version ``value`` (``arn:...:layer:NAME:VERSION``) names. Raises
    InvalidParameterValue for anything else."""
    match = _LAYER_ARN.match(value)
    tail = _VERSION.fullmatch(value, match.end()) if match is not None else None
    if match is None or tail is None:
        raise InvalidParameterValue(f"Invalid layer version ARN: {value}")
    return LayerVersionRef(LayerName(match["region"], match["account"], match["name"]), int(tail["version"]))
