"""Policy documents as Lambda writes them, and what a set of statements allows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flare.control import permissions
from flare.control.permissions import Caller, Decision, evaluate
from flare.errors import InvalidParameterValue, PolicyLengthExceeded

FN = "arn:aws:lambda:us-east-1:111111111111:function:f"


@pytest.mark.parametrize(
    ("principal", "element"),
    [
        ("*", "*"),
        ("123456789012", {"AWS": "arn:aws:iam::123456789012:root"}),
        ("arn:aws:iam::123456789012:role/deployer", {"AWS": "arn:aws:iam::123456789012:role/deployer"}),
        ("arn:aws:sts::123456789012:assumed-role/r/s", {"AWS": "arn:aws:sts::123456789012:assumed-role/r/s"}),
        ("s3.amazonaws.com", {"Service": "s3.amazonaws.com"}),
        ("alexa-appkit.amazon.com", {"Service": "alexa-appkit.amazon.com"}),
    ],
)
def test_principal_element_is_lambdas_form(principal: str, element: object) -> None:
    assert permissions.principal_element(principal) == element


@pytest.mark.parametrize(
    "principal", ["invalid.nonaws.com", "12345", "", "user@example.com", "arn:aws:s3:::b"]
)
def test_principal_element_refuses_what_lambda_refuses(principal: str) -> None:
    with pytest.raises(InvalidParameterValue, match="The provided principal was invalid"):
        permissions.principal_element(principal)


BASE = {"StatementId": "sid", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}


@pytest.mark.parametrize(
    ("extra", "condition"),
    [
        ({}, None),
        ({"SourceArn": "arn:aws:s3:::b"}, {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"}}),
        ({"SourceAccount": "123456789012"}, {"StringEquals": {"AWS:SourceAccount": "123456789012"}}),
        ({"PrincipalOrgID": "o-abcdefghij"}, {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}),
        ({"EventSourceToken": "tok"}, {"StringEquals": {"lambda:EventSourceToken": "tok"}}),
        ({"InvokedViaFunctionUrl": True}, {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}),
        ({"InvokedViaFunctionUrl": False}, None),
        (
            {
                "SourceArn": "arn:aws:s3:::b",
                "SourceAccount": "123456789012",
                "PrincipalOrgID": "o-abcdefghij",
            },
            {
                "StringEquals": {"AWS:SourceAccount": "123456789012", "aws:PrincipalOrgID": "o-abcdefghij"},
                "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"},
            },
        ),
    ],
)
def test_statement_conditions_from_the_optional_fields(extra: dict[str, Any], condition: object) -> None:
    statement = permissions.statement_from_request({**BASE, **extra}, FN)
    assert list(statement)[:5] == ["Sid", "Effect", "Principal", "Action", "Resource"]
    assert statement["Resource"] == FN and statement["Effect"] == "Allow"
    assert statement.get("Condition") == condition
    if condition is not None:
        assert json.dumps(statement["Condition"]) == json.dumps(condition)


def test_function_url_auth_type_goes_first_in_string_equals_after_source_account() -> None:
    body = {
        **BASE,
        "Action": "lambda:InvokeFunctionUrl",
        "Principal": "*",
        "FunctionUrlAuthType": "NONE",
        "SourceAccount": "123456789012",
        "PrincipalOrgID": "o-1234567890",
    }
    keys = list(permissions.statement_from_request(body, FN)["Condition"]["StringEquals"])
    assert keys == ["AWS:SourceAccount", "lambda:FunctionUrlAuthType", "aws:PrincipalOrgID"]


@pytest.mark.parametrize(
    "extra",
    [
        {"FunctionUrlAuthType": "NONE"},
        {"Action": "lambda:InvokeFunctionUrl", "InvokedViaFunctionUrl": True},
    ],
)
def test_url_fields_only_go_with_their_actions(extra: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterValue):
        permissions.statement_from_request({**BASE, **extra}, FN)


def test_documents_grow_and_shrink_by_sid() -> None:
    one = permissions.statement_from_request({**BASE, "StatementId": "one"}, FN)
    two = permissions.statement_from_request({**BASE, "StatementId": "two"}, FN)
    document = permissions.with_statement(permissions.with_statement(None, one), two)
    assert permissions.dump(document).startswith(
        '{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"one"'
    )
    assert permissions.sids(document) == ["one", "two"]
    assert permissions.sids(permissions.without_statement(document, "one")) == ["two"]
    single = {"Version": "2012-10-17", "Statement": one}
    assert permissions.sids(permissions.with_statement(single, two)) == ["one", "two"]


def test_size_limit_counts_the_compact_json() -> None:
    statement = {"Sid": "s", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction"}
    filler = "x" * (permissions.MAX_POLICY_BYTES - len(permissions.dump({**statement, "Resource": ""})))
    assert permissions.check_size({**statement, "Resource": filler}) is not None
    with pytest.raises(
        PolicyLengthExceeded, match=r"The final policy size \(20481\) is bigger than the limit"
    ):
        permissions.check_size({**statement, "Resource": filler + "x"})


ALLOW = {"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction"}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"Version": "2012-10-17"}',
        json.dumps({"Statement": [{**ALLOW, "Effect": "Maybe"}]}),
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "lambda:*"}]}),
        json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*"}]}),
        json.dumps({"Statement": [{**ALLOW, "Condition": {"StringSimilar": {"a": "b"}}}]}),
        json.dumps({"Statement": [{**ALLOW, "Sid": "a"}, {**ALLOW, "Sid": "a"}]}),
    ],
)
def test_parse_document_refuses_invalid_policies(text: str) -> None:
    with pytest.raises(InvalidParameterValue):
        permissions.parse_document(text)


def test_parse_document_accepts_a_single_statement_object() -> None:
    document = permissions.parse_document(json.dumps({"Version": "2012-10-17", "Statement": ALLOW}))
    assert permissions.statements_of(document) == [ALLOW]


ROLE = "arn:aws:iam::222222222222:role/path/deployer"
SESSION = Caller(arn="arn:aws:sts::222222222222:assumed-role/deployer/ci")
USER = Caller(arn="arn:aws:iam::222222222222:user/alice")
OTHER = Caller(arn="arn:aws:iam::333333333333:user/bob")
S3 = Caller(service="s3.amazonaws.com")
ANONYMOUS = Caller()
INVOKE = "lambda:InvokeFunction"


def allow(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": "*", "Action": INVOKE, "Resource": FN, **fields}


@pytest.mark.parametrize(
    ("statements", "caller", "action", "resource", "context", "decision"),
    [
        ([], USER, INVOKE, FN, {}, Decision.NO_MATCH),
        ([allow()], ANONYMOUS, INVOKE, FN, {}, Decision.ALLOW),
        ([allow()], USER, "lambda:GetFunction", FN, {}, Decision.NO_MATCH),
        ([allow()], USER, INVOKE, FN + ":1", {}, Decision.NO_MATCH),
        ([allow(Resource=FN + ":*")], USER, INVOKE, FN + ":1", {}, Decision.ALLOW),
        ([allow(Action="lambda:*")], USER, "lambda:GetFunction", FN, {}, Decision.ALLOW),
        ([allow(Action="LAMBDA:invokefunction")], USER, INVOKE, FN, {}, Decision.ALLOW),
        ([allow(Action=["lambda:GetFunction", INVOKE])], USER, INVOKE, FN, {}, Decision.ALLOW),
        ([allow(Principal={"AWS": "arn:aws:iam::222222222222:root"})], USER, INVOKE, FN, {}, Decision.ALLOW),
        ([allow(Principal={"AWS": "222222222222"})], SESSION, INVOKE, FN, {}, Decision.ALLOW),
        (
            [allow(Principal={"AWS": "arn:aws:iam::222222222222:root"})],
            OTHER,
            INVOKE,
            FN,
            {},
            Decision.NO_MATCH,
        ),
        ([allow(Principal={"AWS": "arn:aws:iam::222222222222:root"})], S3, INVOKE, FN, {}, Decision.NO_MATCH),
        ([allow(Principal={"AWS": ROLE})], SESSION, INVOKE, FN, {}, Decision.ALLOW),
        ([allow(Principal={"AWS": ROLE})], USER, INVOKE, FN, {}, Decision.NO_MATCH),
        ([allow(Principal={"AWS": [OTHER.arn, USER.arn]})], USER, INVOKE, FN, {}, Decision.ALLOW),
        ([allow(Principal={"Service": "s3.amazonaws.com"})], S3, INVOKE, FN, {}, Decision.ALLOW),
        ([allow(Principal={"Service": "sns.amazonaws.com"})], S3, INVOKE, FN, {}, Decision.NO_MATCH),
        ([allow(Principal={"AWS": "*"})], OTHER, INVOKE, FN, {}, Decision.ALLOW),
        ([allow(), {**allow(), "Effect": "Deny"}], USER, INVOKE, FN, {}, Decision.DENY),
        ([allow(NotAction="lambda:Get*", Action=None)], USER, INVOKE, FN, {}, Decision.ALLOW),
        ([allow(NotResource=FN + ":*", Resource=None)], USER, INVOKE, FN + ":2", {}, Decision.NO_MATCH),
        ([allow(NotPrincipal={"AWS": OTHER.arn}, Principal=None)], OTHER, INVOKE, FN, {}, Decision.NO_MATCH),
        (
            [allow(Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"}})],
            S3,
            INVOKE,
            FN,
            {"aws:SourceArn": "arn:aws:s3:::b"},
            Decision.ALLOW,
        ),
        (
            [allow(Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"}})],
            S3,
            INVOKE,
            FN,
            {"aws:SourceArn": "arn:aws:s3:::other"},
            Decision.NO_MATCH,
        ),
        (
            [allow(Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"}})],
            S3,
            INVOKE,
            FN,
            {},
            Decision.NO_MATCH,
        ),
        (
            [allow(Condition={"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})],
            ANONYMOUS,
            "lambda:InvokeFunctionUrl",
            FN,
            {"lambda:FunctionUrlAuthType": "NONE"},
            Decision.NO_MATCH,
        ),
        (
            [
                allow(
                    Action="lambda:InvokeFunctionUrl",
                    Condition={"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
                )
            ],
            ANONYMOUS,
            "lambda:InvokeFunctionUrl",
            FN,
            {"lambda:FunctionUrlAuthType": "NONE"},
            Decision.ALLOW,
        ),
        (
            [allow(Condition={"Bool": {"lambda:InvokedViaFunctionUrl": "true"}})],
            ANONYMOUS,
            INVOKE,
            FN,
            {"lambda:InvokedViaFunctionUrl": True},
            Decision.ALLOW,
        ),
        (
            [allow(Condition={"Bool": {"lambda:InvokedViaFunctionUrl": "true"}})],
            ANONYMOUS,
            INVOKE,
            FN,
            {"lambda:InvokedViaFunctionUrl": False},
            Decision.NO_MATCH,
        ),
    ],
)
def test_evaluate(
    statements: list[dict[str, Any]],
    caller: Caller,
    action: str,
    resource: str,
    context: dict[str, Any],
    decision: Decision,
) -> None:
    cleaned = [{key: value for key, value in s.items() if value is not None} for s in statements]
    assert evaluate(cleaned, caller, action, resource, context) is decision
    assert permissions.allows(cleaned, caller, action, resource, context) is (decision is Decision.ALLOW)


def test_statements_lambda_writes_allow_what_they_say() -> None:
    body = {**BASE, "SourceArn": "arn:aws:s3:::bucket", "SourceAccount": "123456789012"}
    statement = permissions.statement_from_request(body, FN)
    context = {"AWS:SourceArn": "arn:aws:s3:::bucket", "AWS:SourceAccount": "123456789012"}
    assert permissions.allows([statement], S3, INVOKE, FN, context)
    assert not permissions.allows(
        [statement], S3, INVOKE, FN, {**context, "AWS:SourceAccount": "999999999999"}
    )
    account = permissions.statement_from_request({**BASE, "Principal": "222222222222"}, FN)
    assert permissions.allows([account], USER, INVOKE, FN)
    assert not permissions.allows([account], OTHER, INVOKE, FN)
