"""Lambda event filtering: the EventBridge-style pattern matcher, as a table."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from flare.errors import InvalidParameterValue
from flare.events.filtering import (
    Filter,
    check_criteria,
    kinesis_document,
    matches,
    parse_pattern,
    patterns_of,
    sqs_document,
)

EVENT: dict[str, Any] = {
    "body": {
        "kind": "order",
        "city": "Seattle",
        "price": 42,
        "tags": ["new", "vip"],
        "nested": {"flag": True, "nothing": None},
    },
    "attributes": {"ApproximateReceiveCount": "1"},
}

CASES: list[tuple[dict[str, Any], bool]] = [
    # exact values, OR within an array, AND across keys
    ({"body": {"kind": ["order"]}}, True),
    ({"body": {"kind": ["refund", "order"]}}, True),
    ({"body": {"kind": ["refund"]}}, False),
    ({"body": {"kind": ["order"], "city": ["Boston"]}}, False),
    ({"body": {"price": [42]}}, True),
    ({"body": {"price": [42.0]}}, True),
    ({"body": {"price": ["42"]}}, False),
    ({"body": {"nested": {"flag": [True]}}}, True),
    ({"body": {"nested": {"nothing": [None]}}}, True),
    ({"body": {"missing": [None]}}, False),
    ({"attributes": {"ApproximateReceiveCount": ["1"]}}, True),
    # array values: any element
    ({"body": {"tags": ["vip"]}}, True),
    ({"body": {"tags": ["old"]}}, False),
    # prefix, suffix, equals-ignore-case
    ({"body": {"city": [{"prefix": "Sea"}]}}, True),
    ({"body": {"city": [{"prefix": "sea"}]}}, False),
    ({"body": {"price": [{"prefix": "4"}]}}, False),
    ({"body": {"city": [{"suffix": "tle"}]}}, True),
    ({"body": {"city": [{"equals-ignore-case": "SEATTLE"}]}}, True),
    # anything-but
    ({"body": {"city": [{"anything-but": "Boston"}]}}, True),
    ({"body": {"city": [{"anything-but": ["Boston", "Seattle"]}]}}, False),
    ({"body": {"price": [{"anything-but": 42}]}}, False),
    ({"body": {"city": [{"anything-but": {"prefix": "Sea"}}]}}, False),
    ({"body": {"missing": [{"anything-but": "x"}]}}, False),
    # numeric, with ranges
    ({"body": {"price": [{"numeric": [">", 40]}]}}, True),
    ({"body": {"price": [{"numeric": [">", 0, "<=", 42]}]}}, True),
    ({"body": {"price": [{"numeric": [">", 0, "<", 42]}]}}, False),
    ({"body": {"price": [{"numeric": ["=", 42]}]}}, True),
    ({"body": {"city": [{"numeric": [">", 0]}]}}, False),
    ({"body": {"price": [{"numeric": [">=", 100]}, 42]}}, True),
    # exists
    ({"body": {"city": [{"exists": True}]}}, True),
    ({"body": {"missing": [{"exists": True}]}}, False),
    ({"body": {"missing": [{"exists": False}]}}, True),
    ({"body": {"city": [{"exists": False}]}}, False),
    # a nested pattern where the event has no object
    ({"body": {"city": {"name": ["Seattle"]}}}, False),
    ({"nothere": {"x": ["y"]}}, False),
]


@pytest.mark.parametrize(("pattern", "expected"), CASES, ids=[json.dumps(p) for p, _ in CASES])
def test_pattern_table(pattern: dict[str, Any], expected: bool) -> None:
    assert parse_pattern(json.dumps(pattern)) == pattern
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        "{}",
        json.dumps({"body": "order"}),
        json.dumps({"body": []}),
        json.dumps({"body": [{"prefix": 1}]}),
        json.dumps({"body": [{"numeric": [">"]}]}),
        json.dumps({"body": [{"numeric": ["~", 1]}]}),
        json.dumps({"body": [{"exists": "yes"}]}),
        json.dumps({"body": [{"wildcard": "*"}]}),
        json.dumps({"body": [{"prefix": "a", "suffix": "b"}]}),
        json.dumps({"body": [{"anything-but": []}]}),
    ],
)
def test_invalid_patterns_are_refused(text: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid filter pattern"):
        parse_pattern(text)


def test_any_filter_matching_lets_a_record_through() -> None:
    criteria = check_criteria(
        {"Filters": [{"Pattern": '{"body": {"kind": ["refund"]}}'}, {"Pattern": '{"body": {"price": [42]}}'}]}
    )
    only_refunds = Filter(patterns_of({"Filters": criteria["Filters"][:1]}))
    assert Filter(patterns_of(criteria)).matches(EVENT)
    assert not only_refunds.matches(EVENT)
    assert not Filter(()) and Filter(()).matches(EVENT)
    with pytest.raises(InvalidParameterValue):
        check_criteria({"Filters": [{"Pattern": "{}"}] * 6})
    with pytest.raises(InvalidParameterValue):
        check_criteria({"Filters": [{"NotPattern": "x"}]})


def test_documents_parse_sqs_bodies_and_decode_kinesis_data() -> None:
    assert sqs_document({"body": '{"a": 1}'})["body"] == {"a": 1}
    assert sqs_document({"body": "plain text"})["body"] == "plain text"
    encoded = base64.b64encode(b'{"temperature": 30}').decode()
    assert kinesis_document({"partitionKey": "k", "data": encoded})["data"] == {"temperature": 30}
    assert kinesis_document({"data": base64.b64encode(b"hello").decode()})["data"] == "hello"
    binary = base64.b64encode(b"\xff\xfe").decode()
    assert kinesis_document({"data": binary})["data"] == binary
