"""IAM condition operators, from tables."""

from __future__ import annotations

from typing import Any

import pytest

from flare.control.conditions import arn_match, glob_match, holds, is_known


@pytest.mark.parametrize(
    ("pattern", "value", "ignore_case", "expected"),
    [
        ("abc", "abc", False, True),
        ("a*", "abc", False, True),
        ("a?c", "abc", False, True),
        ("a?c", "ac", False, False),
        ("a.c", "abc", False, False),
        ("[ab]", "a", False, False),
        ("ABC", "abc", False, False),
        ("ABC", "abc", True, True),
        ("*", "", False, True),
    ],
)
def test_glob_match(pattern: str, value: str, ignore_case: bool, expected: bool) -> None:
    assert glob_match(pattern, value, ignore_case) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket", True),
        ("arn:aws:s3:::buck*", "arn:aws:s3:::bucket", True),
        ("arn:aws:sqs:*:123456789012:q", "arn:aws:sqs:us-east-1:123456789012:q", True),
        ("arn:aws:sqs:*:123456789012:q", "arn:aws:sqs:us-east-1:999999999999:q", False),
        ("arn:aws:lambda:*:*:function:f:*", "arn:aws:lambda:r:1:function:f:live", True),
        ("arn:aws:s3:::bucket", "not-an-arn", False),
    ],
)
def test_arn_match_compares_part_by_part(pattern: str, value: str, expected: bool) -> None:
    assert arn_match(pattern, value) is expected


CONTEXT: dict[str, Any] = {
    "AWS:SourceAccount": "123456789012",
    "aws:SourceArn": "arn:aws:s3:::bucket",
    "lambda:InvokedViaFunctionUrl": True,
    "aws:TagKeys": ["team", "stage"],
    "count": "5",
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (None, True),
        ({}, True),
        ({"StringEquals": {"aws:sourceaccount": "123456789012"}}, True),
        ({"StringEquals": {"AWS:SourceAccount": ["1", "123456789012"]}}, True),
        ({"StringEquals": {"AWS:SourceAccount": "1"}}, False),
        ({"StringNotEquals": {"AWS:SourceAccount": "1"}}, True),
        ({"StringNotEquals": {"missing": "1"}}, True),
        ({"StringEquals": {"missing": "1"}}, False),
        ({"StringEqualsIfExists": {"missing": "1"}}, True),
        ({"StringEqualsIgnoreCase": {"aws:SourceArn": "ARN:AWS:S3:::BUCKET"}}, True),
        ({"StringLike": {"aws:SourceArn": "arn:aws:s3:::buck*"}}, True),
        ({"StringNotLike": {"aws:SourceArn": "arn:aws:s3:::buck*"}}, False),
        ({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::*"}}, True),
        ({"ArnNotLike": {"AWS:SourceArn": "arn:aws:s3:::*"}}, False),
        ({"ArnEquals": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}, True),
        ({"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}, True),
        ({"Bool": {"lambda:InvokedViaFunctionUrl": "false"}}, False),
        ({"Null": {"missing": "true"}}, True),
        ({"Null": {"AWS:SourceAccount": "true"}}, False),
        ({"Null": {"AWS:SourceAccount": "false"}}, True),
        ({"NumericLessThan": {"count": "10"}}, True),
        ({"NumericGreaterThanEquals": {"count": "6"}}, False),
        ({"NumericEquals": {"count": "five"}}, False),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["stage"]}}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["stage"]}}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["stage", "team", "x"]}}, True),
        ({"ForAllValues:StringEquals": {"missing": ["x"]}}, True),
        (
            {
                "StringEquals": {"AWS:SourceAccount": "123456789012"},
                "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::x"},
            },
            False,
        ),
        ({"StringSimilar": {"AWS:SourceAccount": "123456789012"}}, False),
        ("not a block", False),
    ],
)
def test_holds(condition: object, expected: bool) -> None:
    assert holds(condition, CONTEXT) is expected


@pytest.mark.parametrize(
    ("operator", "known"),
    [
        ("StringEquals", True),
        ("ArnLikeIfExists", True),
        ("ForAllValues:StringLike", True),
        ("Null", True),
        ("DateGreaterThan", False),
        ("IfExists", False),
    ],
)
def test_is_known(operator: str, known: bool) -> None:
    assert is_known(operator) is known
