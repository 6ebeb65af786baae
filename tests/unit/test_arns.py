"""Function name / qualifier / ARN parsing."""

from __future__ import annotations

import pytest

from flare.control.arns import function_arn, parse_function_name
from flare.errors import FlareError, InvalidParameterValue, ValidationFailed

ARN = "arn:aws:lambda:us-east-1:123456789012:function"


@pytest.mark.parametrize(
    ("function_name", "qualifier", "expected"),
    [
        ("my-fn", None, ("my-fn", None)),
        ("my_fn-2", "", ("my_fn-2", None)),
        ("my-fn", "7", ("my-fn", "7")),
        ("my-fn:7", None, ("my-fn", "7")),
        ("my-fn:$LATEST", None, ("my-fn", "$LATEST")),
        ("my-fn:live", "live", ("my-fn", "live")),
        (f"{ARN}:my-fn", None, ("my-fn", None)),
        (f"{ARN}:my-fn:prod", None, ("my-fn", "prod")),
        (f"{ARN}:my-fn", "$LATEST", ("my-fn", "$LATEST")),
        ("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f", None, ("f", None)),
        ("123456789012:function:my-fn", None, ("my-fn", None)),
        ("123456789012:function:my-fn:3", None, ("my-fn", "3")),
        ("a" * 64, None, ("a" * 64, None)),
    ],
)
def test_every_accepted_name_form_parses_to_name_and_qualifier(
    function_name: str, qualifier: str | None, expected: tuple[str, str | None]
) -> None:
    assert parse_function_name(function_name, qualifier) == expected


@pytest.mark.parametrize(
    ("function_name", "qualifier", "error", "message_part"),
    [
        ("", None, ValidationFailed, "length greater than or equal to 1"),
        ("a" * 65, None, ValidationFailed, "length less than or equal to 64"),
        ("has space", None, ValidationFailed, "regular expression pattern"),
        ("bad/slash", None, ValidationFailed, "regular expression pattern"),
        ("a:b:c", None, ValidationFailed, "regular expression pattern"),
        ("arn:aws:lambda:us-east-1:12345:function:f", None, ValidationFailed, "regular expression pattern"),
        ("arn:aws:s3:::bucket", None, ValidationFailed, "regular expression pattern"),
        (f"{ARN}:{'a' * 100}", None, ValidationFailed, "length less than or equal to 140"),
        ("my-fn:1", "2", InvalidParameterValue, "does not match the specified qualifier"),
        (f"{ARN}:my-fn:live", "prod", InvalidParameterValue, "does not match the specified qualifier"),
        ("my-fn", "bad qualifier", ValidationFailed, "'qualifier'"),
    ],
)
def test_malformed_names_and_qualifiers_are_refused(
    function_name: str, qualifier: str | None, error: type[FlareError], message_part: str
) -> None:
    with pytest.raises(error) as caught:
        parse_function_name(function_name, qualifier)
    assert message_part in caught.value.message


def test_agreeing_qualifiers_in_name_and_parameter_are_accepted() -> None:
    assert parse_function_name("f:9", "9") == ("f", "9")


@pytest.mark.parametrize(
    ("qualifier", "expected"),
    [
        (None, "arn:aws:lambda:eu-west-1:000000000000:function:f"),
        ("$LATEST", "arn:aws:lambda:eu-west-1:000000000000:function:f:$LATEST"),
        ("3", "arn:aws:lambda:eu-west-1:000000000000:function:f:3"),
    ],
)
def test_function_arn_is_qualified_only_when_asked(qualifier: str | None, expected: str) -> None:
    assert function_arn("eu-west-1", "000000000000", "f", qualifier) == expected


def test_built_arn_parses_back_to_its_parts() -> None:
    arn = function_arn("us-east-1", "000000000000", "round-trip", "5")
    assert parse_function_name(arn, None) == ("round-trip", "5")
