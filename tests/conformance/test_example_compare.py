"""The example comparison and the substitutions, on small documents of Lambda's shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from flare.specs.models import service_model
from tests.conformance.example_compare import Allowed, differences
from tests.conformance.substitution import ABSENT, Made, Substitution, apply

MODEL = service_model("lambda")
CONFIGURATION = MODEL.shape_for("FunctionConfiguration")
ALIASES = MODEL.operation_model("ListAliases").output_shape
POLICY = MODEL.operation_model("GetPolicy").output_shape
INVOKED = MODEL.operation_model("Invoke").output_shape
MAPPING = MODEL.shape_for("EventSourceMappingConfiguration")


def found(shape: Any, expected: Any, actual: Any, *allowed: Allowed, **added: dict[str, str]) -> list[str]:
    return differences(shape, expected, actual, allowed, added)[0]


def test_equal_answers_differ_in_nothing() -> None:
    config = {"FunctionName": "f", "MemorySize": 256, "Environment": {"Variables": {"A": "b"}}}
    assert found(CONFIGURATION, config, json.loads(json.dumps(config))) == []


@pytest.mark.parametrize(
    ("expected", "actual", "difference"),
    [
        ({"MemorySize": 256}, {"MemorySize": 128}, "MemorySize: value: the example has 256, Flare 128"),
        ({"MemorySize": 256}, {}, "MemorySize: missing: the example has 256"),
        ({}, {"Timeout": 3}, "Timeout: extra: Flare answers 3, the example has no Timeout"),
        ({"Timeout": 3}, {"Timeout": "3"},
         "Timeout: type: the example has integer, Flare str (Timeout is a integer)"),
        ({"Environment": {"Variables": {"A": "b"}}}, {"Environment": {"Variables": {"A": "c"}}},
         'Environment.Variables.A: value: the example has "b", Flare "c"'),
        ({"Environment": {"Variables": {"A": "b"}}}, {"Environment": {"Variables": {}}},
         'Environment.Variables.A: missing: the example has "b"'),
        ({"Architectures": ["x86_64"]}, {"Architectures": ["x86_64", "arm64"]},
         "Architectures: length: the example lists 1, Flare 2"),
    ],
)  # fmt: skip
def test_each_kind_of_difference_is_named_at_its_path(expected: Any, actual: Any, difference: str) -> None:
    assert found(CONFIGURATION, expected, actual) == [difference]


def test_generated_values_and_timestamps_are_compared_by_type_only() -> None:
    expected = {"RevisionId": "a", "CodeSha256": "x", "LastModified": "2020-04-10T19:06:32.563+0000"}
    actual = {"RevisionId": "b", "CodeSha256": "y", "LastModified": "2026-01-01T00:00:00.000+0000"}
    assert found(CONFIGURATION, expected, actual) == []
    assert found(CONFIGURATION, {"CodeSize": 5797206}, {"CodeSize": "154"}) == [
        "CodeSize: type: the example has long, Flare str (Long is a long)"
    ]


def test_a_timestamp_written_as_a_string_or_a_number_matches_a_parsed_datetime() -> None:
    parsed = datetime(2026, 1, 1, tzinfo=UTC)
    assert found(MAPPING, {"LastModified": 1569284520.333}, {"LastModified": parsed}) == []
    assert found(MAPPING, {"LastModified": "2016-11-21T19:49:20.006+0000"}, {"LastModified": parsed}) == []
    assert found(MAPPING, {"LastModified": [1]}, {"LastModified": parsed}) == [
        "LastModified: type: the example has list, Flare timestamp (Date is a timestamp)"
    ]


def test_members_aws_added_since_are_allowed_per_shape() -> None:
    extra = {"FunctionName": "f", "PackageType": "Zip"}
    assert found(CONFIGURATION, {"FunctionName": "f"}, extra) != []
    assert (
        found(CONFIGURATION, {"FunctionName": "f"}, extra, FunctionConfiguration={"PackageType": "2020"})
        == []
    )


def test_an_allowance_covers_its_path_and_kind_only_and_says_it_was_used() -> None:
    allowed = Allowed("Aliases[*].Description", "value", "why")
    expected = {"Aliases": [{"Name": "A", "Description": "x"}]}
    actual = {"Aliases": [{"Name": "A", "Description": "y"}]}
    assert differences(ALIASES, expected, actual, [allowed]) == ([], {allowed})
    changed = {"Aliases": [{"Name": "B", "Description": "y"}]}
    assert found(ALIASES, expected, changed, allowed) == [
        'Aliases[0].Name: value: the example has "A", Flare "B"'
    ]
    assert differences(ALIASES, expected, expected, [allowed]) == ([], set())


def test_order_allowance_matches_items_by_identity() -> None:
    blue = {"AliasArn": "arn:blue", "Name": "BLUE"}
    green = {"AliasArn": "arn:green", "Name": "GREEN"}
    assert found(ALIASES, {"Aliases": [green, blue]}, {"Aliases": [blue, green]}) != []
    assert (
        found(
            ALIASES, {"Aliases": [green, blue]}, {"Aliases": [blue, green]}, Allowed("Aliases", "order", "w")
        )
        == []
    )


def test_json_documents_compare_as_documents() -> None:
    statement = {"Sid": "s", "Effect": "Allow", "Resource": "arn:1"}
    expected = {"Policy": json.dumps({"Statement": [statement]})}
    reordered = {"Policy": json.dumps({"Statement": [dict(reversed(list(statement.items())))]})}
    assert found(POLICY, expected, reordered) == []
    other = {"Policy": json.dumps({"Statement": [{**statement, "Resource": "arn:2"}]})}
    assert found(POLICY, expected, other) == [
        'Policy.Statement[0].Resource: value: the example has "arn:1", Flare "arn:2"'
    ]


def test_a_blob_payload_compares_its_bytes() -> None:
    assert found(INVOKED, {"Payload": "{}", "StatusCode": 200}, {"Payload": b"{}", "StatusCode": 200}) == []
    assert found(INVOKED, {"Payload": "{}"}, {"Payload": b"[]"}) == [
        "Payload: value: the example has b'{}', Flare b'[]'"
    ]


def test_an_allowance_must_say_why_and_be_of_a_known_kind() -> None:
    with pytest.raises(AssertionError):
        Allowed("A", "value", "")
    with pytest.raises(AssertionError):
        Allowed("A", "whatever", "why")


EXAMPLE: dict[str, dict[str, Any]] = {
    "input": {
        "FunctionName": "my-function",
        "Role": "arn:aws:iam::123456789012:role/r",
        "Code": {"S3Key": "k"},
    },
    "output": {"FunctionArn": "arn:aws:lambda:us-west-2:123456789012:function:my-function", "UUID": "u-1"},
}


def test_substitutions_replace_in_every_string_or_at_one_path() -> None:
    substituted = apply(
        [
            Substitution("strings", "123456789012", "000000000000", "account"),
            Substitution("input.Code", {"S3Key": "k"}, {"ZipFile": b"zip"}, "code"),
            Substitution("input.Publish", ABSENT, True, "add"),
            Substitution("input.Role", "arn:aws:iam::000000000000:role/r", ABSENT, "remove"),
            Substitution("output.UUID", "u-1", Made("uuid"), "made"),
        ],
        EXAMPLE,
        {"uuid": "u-2"},
    )
    assert substituted == {
        "input": {"FunctionName": "my-function", "Code": {"ZipFile": b"zip"}, "Publish": True},
        "output": {
            "FunctionArn": "arn:aws:lambda:us-west-2:000000000000:function:my-function",
            "UUID": "u-2",
        },
    }
    assert EXAMPLE["input"]["Role"] == "arn:aws:iam::123456789012:role/r", "the example itself is not changed"


def test_a_path_substitution_that_does_not_find_its_old_value_fails() -> None:
    with pytest.raises(AssertionError, match=r"output\.UUID: the example has 'u-1', not 'u-9'"):
        apply([Substitution("output.UUID", "u-9", "x", "why")], EXAMPLE, {})
    with pytest.raises(AssertionError):
        Substitution("elsewhere.UUID", "u", "x", "why")
    with pytest.raises(AssertionError):
        Substitution("output.UUID", "u", "x", "")
