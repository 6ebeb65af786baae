"""Layer version policies: statements as AWS writes them, revisions, who they let in."""

from __future__ import annotations

import json

import pytest

from flare.control import layer_policy
from flare.control.layer_policy import added, allows, document, removed, statement
from flare.errors import PreconditionFailed, ResourceConflict, ResourceNotFound

RESOURCE = "arn:aws:lambda:us-east-1:000000000000:layer:l:1"
ACTION = "lambda:GetLayerVersion"


@pytest.mark.parametrize(
    ("principal", "organization", "written"),
    [
        ("*", None, {"Principal": "*"}),
        ("123456789012", None, {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}}),
        ("arn:aws:iam::123456789012:root", None, {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}}),
        (
            "*",
            "o-abcdefghij",
            {"Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}},
        ),
    ],
)
def test_statements_are_written_as_aws_writes_them(
    principal: str, organization: str | None, written: dict[str, object]
) -> None:
    expected = {"Sid": "s", "Effect": "Allow", "Action": ACTION, "Resource": RESOURCE, **written}
    assert statement("s", ACTION, principal, organization, RESOURCE) == expected


def test_statement_keys_keep_aws_order_in_json() -> None:
    written = layer_policy.dumps(statement("s", ACTION, "*", "o-abcdefghij", RESOURCE))
    assert written.startswith('{"Sid":"s","Effect":"Allow","Principal":"*","Action":"lambda:GetLayerVersion"')
    assert " " not in written


def test_adding_a_taken_sid_is_a_conflict() -> None:
    first = statement("s1", ACTION, "*", None, RESOURCE)
    with pytest.raises(ResourceConflict, match=r"The statement id \(s1\) provided already exists"):
        added([first], statement("s1", ACTION, "123456789012", None, RESOURCE), None, "rev")


@pytest.mark.parametrize("current", [None, "rev-1"])
def test_a_stale_revision_is_refused(current: str | None) -> None:
    with pytest.raises(PreconditionFailed, match="GetLayerPolicy"):
        added([], statement("s", ACTION, "*", None, RESOURCE), "rev-0", current)
    with pytest.raises(PreconditionFailed):
        removed([statement("s", ACTION, "*", None, RESOURCE)], "s", "rev-0", current)


def test_matching_or_absent_revision_is_accepted() -> None:
    new = statement("s", ACTION, "*", None, RESOURCE)
    assert added([], new, "rev-1", "rev-1") == [new]
    assert added([], new, None, "rev-1") == [new]


def test_removing_a_missing_statement_is_not_found() -> None:
    with pytest.raises(ResourceNotFound, match=r"Statement nope is not found in resource policy\."):
        removed([statement("s", ACTION, "*", None, RESOURCE)], "nope", None, "rev")


def test_document_holds_every_statement_and_none_is_no_policy() -> None:
    statements = [
        statement("a", ACTION, "*", None, RESOURCE),
        statement("b", ACTION, "123456789012", None, RESOURCE),
    ]
    assert json.loads(document(statements)) == {
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": statements,
    }
    with pytest.raises(ResourceNotFound, match=r"No policy is associated with the given resource\."):
        document([])


@pytest.mark.parametrize(
    ("principal", "organization", "account", "member_of", "allowed"),
    [
        ("*", None, "111111111111", None, True),
        ("111111111111", None, "111111111111", None, True),
        ("111111111111", None, "222222222222", None, False),
        ("*", "o-abcdefghij", "222222222222", "o-abcdefghij", True),
        ("*", "o-abcdefghij", "222222222222", "o-zzzzzzzzzz", False),
        ("*", "o-abcdefghij", "222222222222", None, False),
    ],
)
def test_allows_decides_who_may_use_the_layer_version(
    principal: str, organization: str | None, account: str, member_of: str | None, allowed: bool
) -> None:
    statements = [statement("s", ACTION, principal, organization, RESOURCE)]
    assert allows(statements, account, member_of) is allowed
    assert allows([], account, member_of) is False
