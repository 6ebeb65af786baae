"""A function's request decided against its role's policies (attached, else the default) and the
resource's own policy, with AWS's refusals; and the role policies' store and cache."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from flare.control import permissions
from flare.errors import (
    AccessDenied,
    InvalidParameterValue,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from flare.iam import actions, policy
from flare.iam.authorize import Authorizer, Caller, Verdict, verdict
from flare.iam.roles import RolePolicies
from flare.scope import Scope
from flare.store.database import Database
from flare.store.role_policies import RolePolicyStore

ACCOUNT = "123456789012"
OTHER = "210987654321"
SCOPE = Scope(ACCOUNT, "us-east-1")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/worker-role"
CALLER = Caller(ACCOUNT, "us-east-1", "worker", ROLE)
PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/worker-role/worker"
FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
THEIRS = f"arn:aws:lambda:us-east-1:{OTHER}:function:theirs"

Allow, Deny, Implicit = policy.Decision.ALLOW, policy.Decision.DENY, policy.Decision.IMPLICIT_DENY
RAllow, RDeny, RNone = permissions.Decision.ALLOW, permissions.Decision.DENY, permissions.Decision.NO_MATCH
VERDICTS = [
    (Allow, RNone, True, Verdict.ALLOWED),
    (Implicit, RAllow, True, Verdict.ALLOWED),
    (Implicit, RNone, True, Verdict.NO_IDENTITY_ALLOW),
    (Deny, RAllow, True, Verdict.IDENTITY_DENY),
    (Allow, RDeny, True, Verdict.RESOURCE_DENY),
    (Allow, RAllow, False, Verdict.ALLOWED),
    (Allow, RNone, False, Verdict.NO_RESOURCE_ALLOW),
    (Implicit, RAllow, False, Verdict.NO_IDENTITY_ALLOW),
    (Deny, RAllow, False, Verdict.IDENTITY_DENY),
]


@pytest.mark.parametrize(("identity", "resource", "same_account", "expected"), VERDICTS)
def test_identity_and_resource_policies_combine_as_in_iam(
    identity: policy.Decision, resource: permissions.Decision, same_account: bool, expected: Verdict
) -> None:
    assert verdict(identity, resource, same_account) is expected


@pytest.fixture
def roles(tmp_path: Path) -> RolePolicies:
    return RolePolicies(RolePolicyStore(Database(tmp_path / "flare.db", SCOPE)))


def _authorizer(
    roles: RolePolicies, resource_policies: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
) -> Authorizer:
    found = resource_policies or {}
    return Authorizer(roles, lambda arn: found.get(arn, []))


def _lambda(operation: str, **params: Any) -> actions.Authorization:
    return actions.for_lambda(operation, params, SCOPE)


def _target(prefix: str, operation: str, **body: Any) -> actions.Authorization:
    found = actions.for_target(prefix, operation, body, SCOPE)
    assert found is not None
    return found


DEFAULT_ALLOWS = [
    _lambda("Invoke", FunctionName="other-function"),
    _lambda("Invoke", FunctionName="other-function", Qualifier="prod"),
    _lambda("InvokeWithResponseStream", FunctionName="worker"),
    _target("AmazonSQS", "SendMessage", QueueUrl=f"http://127.0.0.1:9000/{ACCOUNT}/orders"),
    _target("AmazonSQS", "ListQueues"),
    _target("Kinesis_20131202", "PutRecord", StreamName="clicks"),
    _target("Logs_20140328", "PutLogEvents", logGroupName="/aws/lambda/worker", logStreamName="s"),
    _target("Logs_20140328", "CreateLogStream", logGroupName="/aws/lambda/worker", logStreamName="s"),
]
DEFAULT_DENIES = [
    _lambda("ListFunctions"),
    _lambda("GetFunction", FunctionName="other-function"),
    _lambda("GetFunctionConfiguration", FunctionName="worker"),
    _lambda("UpdateFunctionConfiguration", FunctionName="other-function"),
    _lambda("CreateFunction", FunctionName="new"),
    _lambda("AddPermission", FunctionName="worker"),
    _lambda("Invoke", FunctionName=THEIRS),
    _target("AmazonSQS", "SendMessage", QueueUrl=f"http://127.0.0.1:9000/{OTHER}/orders"),
    _target("Logs_20140328", "PutLogEvents", logGroupName="/aws/lambda/other-function", logStreamName="s"),
    _target("Logs_20140328", "GetLogEvents", logGroupName="/aws/lambda/worker", logStreamName="s"),
]


@pytest.mark.parametrize("request_", DEFAULT_ALLOWS, ids=lambda r: f"{r.action} {r.resources[0]}")
def test_the_default_policy_allows_the_data_plane_of_the_account(
    roles: RolePolicies, request_: actions.Authorization
) -> None:
    _authorizer(roles).authorize(CALLER, request_)


@pytest.mark.parametrize("request_", DEFAULT_DENIES, ids=lambda r: f"{r.action} {r.resources[0]}")
def test_the_default_policy_allows_no_control_plane_and_nothing_elsewhere(
    roles: RolePolicies, request_: actions.Authorization
) -> None:
    with pytest.raises(AccessDenied):
        _authorizer(roles).authorize(CALLER, request_)


def test_a_denial_reads_as_aws_writes_it(roles: RolePolicies) -> None:
    with pytest.raises(AccessDenied) as raised:
        _authorizer(roles).authorize(
            CALLER, _lambda("UpdateFunctionConfiguration", FunctionName="other-function")
        )
    assert raised.value.message == (
        f"User: {PRINCIPAL} is not authorized to perform: lambda:UpdateFunctionConfiguration on resource: "
        f"{FN}other-function because no identity-based policy allows the "
        "lambda:UpdateFunctionConfiguration action"
    )
    assert raised.value.status == 403 and raised.value.aws_name == "AccessDeniedException"


def _put(roles: RolePolicies, name: str, *statements: dict[str, Any]) -> None:
    roles.put(ACCOUNT, ROLE, name, json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def test_attached_policies_replace_the_default_and_an_explicit_deny_says_so(roles: RolePolicies) -> None:
    authorizer = _authorizer(roles)
    _put(roles, "read", {"Effect": "Allow", "Action": "lambda:Get*", "Resource": f"{FN}*"})
    authorizer.authorize(CALLER, _lambda("GetFunction", FunctionName="other-function"))
    with pytest.raises(AccessDenied):  # the default's invoke is gone with an attached policy
        authorizer.authorize(CALLER, _lambda("Invoke", FunctionName="other-function"))
    _put(roles, "guard", {"Effect": "Deny", "Action": "lambda:GetFunction", "Resource": f"{FN}secret*"})
    with pytest.raises(AccessDenied) as raised:
        authorizer.authorize(CALLER, _lambda("GetFunction", FunctionName="secret", Qualifier="1"))
    assert raised.value.message == (
        f"User: {PRINCIPAL} is not authorized to perform: lambda:GetFunction on resource: {FN}secret:1 "
        "with an explicit deny in an identity-based policy"
    )
    roles.delete(ACCOUNT, ROLE, "guard")
    authorizer.authorize(CALLER, _lambda("GetFunction", FunctionName="secret", Qualifier="1"))
    roles.delete(ACCOUNT, ROLE, None)
    authorizer.authorize(CALLER, _lambda("Invoke", FunctionName="other-function"))  # the default again


def test_conditions_see_the_callers_keys(roles: RolePolicies) -> None:
    _put(
        roles,
        "self",
        {
            "Effect": "Allow",
            "Action": "lambda:GetFunctionConfiguration",
            "Resource": "*",
            "Condition": {
                "ArnEquals": {"lambda:SourceFunctionArn": f"{FN}worker"},
                "StringEquals": {"aws:PrincipalArn": ROLE},
            },
        },
    )
    authorizer = _authorizer(roles)
    authorizer.authorize(CALLER, _lambda("GetFunctionConfiguration", FunctionName="worker"))
    with pytest.raises(AccessDenied):
        authorizer.authorize(
            Caller(ACCOUNT, "us-east-1", "other", ROLE), _lambda("GetFunctionConfiguration", FunctionName="x")
        )


def _grant(
    principal: str, action: str = "lambda:InvokeFunction", effect: str = "Allow"
) -> list[dict[str, Any]]:
    return [
        {"Sid": "s", "Effect": effect, "Principal": {"AWS": principal}, "Action": action, "Resource": THEIRS}
    ]


def test_another_accounts_function_needs_both_policies(roles: RolePolicies) -> None:
    invoke = _lambda("Invoke", FunctionName=THEIRS)
    granted = _authorizer(roles, {THEIRS: _grant(ACCOUNT)})
    with pytest.raises(AccessDenied, match="because no identity-based policy allows"):
        granted.authorize(CALLER, invoke)  # the default allows invoking in its own account only
    _put(roles, "mine", {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"})
    granted.authorize(CALLER, invoke)
    with pytest.raises(AccessDenied) as raised:
        _authorizer(roles).authorize(CALLER, invoke)
    assert raised.value.message.endswith(
        "because no resource-based policy allows the lambda:InvokeFunction action"
    )
    roles.delete(ACCOUNT, ROLE, None)
    with pytest.raises(AccessDenied) as raised:
        _authorizer(roles, {THEIRS: _grant(ACCOUNT, "lambda:GetFunction")}).authorize(
            CALLER, _lambda("GetFunction", FunctionName=THEIRS)
        )
    assert raised.value.message.endswith(
        "because no identity-based policy allows the lambda:GetFunction action"
    )


def test_a_resource_policy_alone_allows_in_the_same_account_and_its_deny_wins(roles: RolePolicies) -> None:
    mine = f"{FN}mine"
    get = _lambda("GetFunction", FunctionName="mine")
    role_grant = [
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "lambda:GetFunction", "Resource": mine}
    ]
    _authorizer(roles, {mine: role_grant}).authorize(CALLER, get)
    deny = [{"Effect": "Deny", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": mine}]
    with pytest.raises(AccessDenied) as raised:
        _authorizer(roles, {mine: deny}).authorize(CALLER, _lambda("Invoke", FunctionName="mine"))
    assert raised.value.message.endswith("with an explicit deny in a resource-based policy")


def test_role_policies_persist_are_listed_per_account_and_checked(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", SCOPE)
    roles = RolePolicies(RolePolicyStore(db))
    _put(roles, "b", {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
    _put(roles, "a", {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"})
    other_role = f"arn:aws:iam::{OTHER}:role/x"
    roles.put(
        OTHER,
        other_role,
        "p",
        json.dumps({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}),
    )
    db.close()
    again = RolePolicies(RolePolicyStore(Database(tmp_path / "flare.db", SCOPE)))
    assert again.roles(ACCOUNT) == [(ROLE, ["a", "b"])]
    assert again.roles(OTHER) == [(other_role, ["p"])]
    assert again.get(ACCOUNT, ROLE, "b")["Statement"][0]["Action"] == "sqs:*"
    assert [name for name, _ in again.documents(ACCOUNT, ROLE)] == ["a", "b"]
    assert len(again.compiled(ROLE)) == 2
    with pytest.raises(AccessDenied):
        again.get(ACCOUNT, other_role, "p")
    with pytest.raises(NoSuchEntity, match=r"The role policy with name c cannot be found\."):
        again.get(ACCOUNT, ROLE, "c")
    with pytest.raises(NoSuchEntity):
        again.delete(ACCOUNT, ROLE, "c")
    with pytest.raises(InvalidParameterValue):
        again.put(ACCOUNT, "arn:aws:iam::123:role/x", "p", "{}")
    with pytest.raises(MalformedPolicyDocument, match=r"Policy statement must contain resources\."):
        again.put(ACCOUNT, ROLE, "c", json.dumps({"Statement": {"Effect": "Allow", "Action": "s3:*"}}))
    big = {"Effect": "Allow", "Action": [f"sqs:Action{i:04}" for i in range(600)], "Resource": "*"}
    with pytest.raises(
        LimitExceeded, match="Maximum policy size of 10240 bytes exceeded for role worker-role"
    ):
        again.put(ACCOUNT, ROLE, "big", json.dumps({"Statement": big}))
    assert again.delete(ACCOUNT, ROLE, None) == 2
    assert again.compiled(ROLE) == ()
