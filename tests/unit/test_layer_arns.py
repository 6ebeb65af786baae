"""Layer names and ARNs as clients send them."""

from __future__ import annotations

import pytest

from flare.control.layer_arns import (
    LayerName,
    LayerVersionRef,
    layer_arn,
    layer_version_arn,
    parse_layer_name,
    parse_layer_version_arn,
)
from flare.errors import InvalidParameterValue

HERE = ("us-east-1", "000000000000")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("my-layer_1", LayerName("us-east-1", "000000000000", "my-layer_1")),
        ("arn:aws:lambda:eu-west-1:123456789012:layer:x", LayerName("eu-west-1", "123456789012", "x")),
        ("arn:aws-cn:lambda:cn-north-1:123456789012:layer:x", LayerName("cn-north-1", "123456789012", "x")),
        (
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:layer:y",
            LayerName("us-gov-west-1", "123456789012", "y"),
        ),
    ],
)
def test_a_layer_is_named_by_name_or_arn(value: str, expected: LayerName) -> None:
    assert parse_layer_name(value, *HERE) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "has space",
        "arn:aws:lambda:us-east-1:000000000000:layer:x:1",
        "arn:aws:lambda:us-east-1:1:layer:x",
        "x" * 141,
    ],
)
def test_anything_else_is_not_a_layer_name(value: str) -> None:
    with pytest.raises(InvalidParameterValue):
        parse_layer_name(value, *HERE)


def test_a_version_arn_names_layer_and_number() -> None:
    assert parse_layer_version_arn(
        "arn:aws:lambda:us-east-1:000000000000:layer:my-layer:12"
    ) == LayerVersionRef(LayerName("us-east-1", "000000000000", "my-layer"), 12)


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:lambda:us-east-1:000000000000:layer:my-layer",
        "arn:aws:lambda:us-east-1:000000000000:layer:my-layer:",
        "arn:aws:lambda:us-east-1:000000000000:layer:my-layer:1:2",
        "arn:aws:lambda:us-east-1:000000000000:function:f:1",
        "my-layer:1",
    ],
)
def test_a_version_arn_needs_its_number(value: str) -> None:
    with pytest.raises(InvalidParameterValue):
        parse_layer_version_arn(value)


def test_arns_are_built_as_aws_writes_them() -> None:
    assert layer_arn("us-east-1", "000000000000", "l") == "arn:aws:lambda:us-east-1:000000000000:layer:l"
    assert (
        layer_version_arn("us-east-1", "000000000000", "l", 3)
        == "arn:aws:lambda:us-east-1:000000000000:layer:l:3"
    )
