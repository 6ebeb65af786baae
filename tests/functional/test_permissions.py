"""Resource-based policies through real boto3 against ``flare serve``: AddPermission,
RemovePermission, GetPolicy on functions, versions and aliases, and Put/Get/DeleteResourcePolicy
on the same documents; AWS's shapes, messages and statuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, python_function

CODE = python_function("def handler(event, context):\n    return event\n")
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
BUCKET = "arn:aws:s3:::my-bucket"


def failure(call: Callable[[], Any]) -> tuple[int, str, str]:
    """(status, error code, message) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def add(lam: Any, name: str, sid: str, **extra: Any) -> dict[str, Any]:
    extra.setdefault("Action", "lambda:InvokeFunction")
    extra.setdefault("Principal", "s3.amazonaws.com")
    statement: dict[str, Any] = json.loads(
        lam.add_permission(FunctionName=name, StatementId=sid, **extra)["Statement"]
    )
    return statement


def policy(lam: Any, name: str, **extra: Any) -> tuple[dict[str, Any], str]:
    answer = lam.get_policy(FunctionName=name, **extra)
    return json.loads(answer["Policy"]), answer["RevisionId"]


def test_add_permission_answers_the_statement_and_get_policy_the_document_as_aws_writes_them(
    lam: Any,
) -> None:
    create_function(lam, "shapes", CODE)
    raw = lam.add_permission(
        FunctionName="shapes",
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=BUCKET,
    )
    assert raw["ResponseMetadata"]["HTTPStatusCode"] == 201
    expected = (
        '{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction",'
        f'"Resource":"{ARN}shapes","Condition":{{"ArnLike":{{"AWS:SourceArn":"{BUCKET}"}}}}}}'
    )
    assert raw["Statement"] == expected
    answer = lam.get_policy(FunctionName="shapes")
    assert answer["Policy"] == '{"Version":"2012-10-17","Id":"default","Statement":[' + expected + "]}"
    assert len(answer["RevisionId"]) == 36


def test_principals_and_optional_fields_become_lambdas_principal_and_condition_forms(lam: Any) -> None:
    create_function(lam, "forms", CODE)
    assert add(lam, "forms", "account", Principal="123456789012")["Principal"] == {
        "AWS": "arn:aws:iam::123456789012:root"
    }
    user = "arn:aws:iam::123456789012:user/alice"
    assert add(lam, "forms", "user", Principal=user)["Principal"] == {"AWS": user}
    anyone = add(lam, "forms", "anyone", Principal="*", SourceAccount="123456789012")
    assert anyone["Principal"] == "*"
    assert anyone["Condition"] == {"StringEquals": {"AWS:SourceAccount": "123456789012"}}
    url = add(
        lam,
        "forms",
        "url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        SourceArn=BUCKET,
        SourceAccount="123456789012",
        PrincipalOrgID="o-1234567890",
        FunctionUrlAuthType="NONE",
    )
    assert list(url) == ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"]
    assert json.dumps(url["Condition"]) == json.dumps(
        {
            "StringEquals": {
                "AWS:SourceAccount": "123456789012",
                "lambda:FunctionUrlAuthType": "NONE",
                "aws:PrincipalOrgID": "o-1234567890",
            },
            "ArnLike": {"AWS:SourceArn": BUCKET},
        }
    )
    alexa = add(lam, "forms", "alexa", Principal="*", EventSourceToken="amzn1.ask.skill.x")
    assert alexa["Condition"] == {"StringEquals": {"lambda:EventSourceToken": "amzn1.ask.skill.x"}}
    via_url = add(lam, "forms", "via-url", Principal="*", InvokedViaFunctionUrl=True)
    assert via_url["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    document, _ = policy(lam, "forms")
    assert [s["Sid"] for s in document["Statement"]] == [
        "account",
        "user",
        "anyone",
        "url",
        "alexa",
        "via-url",
    ]


def test_add_permission_errors(lam: Any) -> None:
    create_function(lam, "refusals", CODE)
    add(lam, "refusals", "s3")
    assert failure(lambda: add(lam, "refusals", "s3")) == (
        409,
        "ResourceConflictException",
        "The statement id (s3) provided already exists. Please provide a new statement id, or remove the "
        "existing statement.",
    )
    assert failure(lambda: add(lam, "refusals", "latest", Qualifier="$LATEST")) == (
        400,
        "InvalidParameterValueException",
        "We currently do not support adding policies for $LATEST.",
    )
    assert failure(lambda: add(lam, "refusals", "bad", Principal="invalid.nonaws.com")) == (
        400,
        "InvalidParameterValueException",
        "The provided principal was invalid. Please check the principal and try again.",
    )
    assert failure(lambda: add(lam, "missing-fn", "s3")) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {ARN}missing-fn",
    )
    assert failure(lambda: add(lam, "refusals", "v", Qualifier="42")) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {ARN}refusals:42",
    )
    assert failure(lambda: add(lam, "refusals:nope", "a")) == (
        404,
        "ResourceNotFoundException",
        f"Cannot find alias arn: {ARN}refusals:nope",
    )
    assert failure(lambda: add(lam, "refusals:other", "m", Qualifier="42"))[2] == (
        "The derived qualifier from the function name does not match the specified qualifier."
    )
    status, code, _ = failure(lambda: add(lam, "refusals", "auth", FunctionUrlAuthType="NONE"))
    assert (status, code) == (400, "InvalidParameterValueException")


def test_revision_ids_are_the_policys_own_and_guard_changes(lam: Any) -> None:
    create_function(lam, "revisions", CODE)
    assert failure(lambda: add(lam, "revisions", "early", RevisionId="wrong"))[:2] == (
        412,
        "PreconditionFailedException",
    )
    add(lam, "revisions", "one")
    _, first = policy(lam, "revisions")
    function_revision = lam.get_function(FunctionName="revisions")["Configuration"]["RevisionId"]
    assert first != function_revision
    lam.update_function_configuration(FunctionName="revisions", Description="changed")
    assert policy(lam, "revisions")[1] == first
    assert failure(lambda: add(lam, "revisions", "two", RevisionId=function_revision)) == (
        412,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve "
        "the latest Revision Id",
    )
    add(lam, "revisions", "two", RevisionId=first)
    _, second = policy(lam, "revisions")
    assert second != first
    assert failure(
        lambda: lam.remove_permission(FunctionName="revisions", StatementId="one", RevisionId=first)
    )[:2] == (412, "PreconditionFailedException")
    lam.remove_permission(FunctionName="revisions", StatementId="one", RevisionId=second)
    assert [s["Sid"] for s in policy(lam, "revisions")[0]["Statement"]] == ["two"]


def test_remove_permission_and_get_policy_errors(lam: Any) -> None:
    create_function(lam, "removals", CODE)
    no_resource = (404, "ResourceNotFoundException", "The resource you requested does not exist.")
    assert failure(lambda: lam.get_policy(FunctionName="removals")) == no_resource
    assert failure(lambda: lam.get_policy(FunctionName="no-such-function")) == no_resource
    assert failure(lambda: lam.get_policy(FunctionName="removals", Qualifier="77")) == no_resource
    assert failure(lambda: lam.remove_permission(FunctionName="removals", StatementId="s3")) == (
        404,
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    )
    assert failure(lambda: lam.remove_permission(FunctionName="no-such-function", StatementId="s3")) == (
        404,
        "ResourceNotFoundException",
        f"No policy found for: {ARN}no-such-function",
    )
    assert failure(
        lambda: lam.remove_permission(FunctionName="removals", StatementId="s3", Qualifier="nope")
    ) == (
        404,
        "ResourceNotFoundException",
        f"Cannot find alias arn: {ARN}removals:nope",
    )
    add(lam, "removals", "s3")
    assert failure(lambda: lam.remove_permission(FunctionName="removals", StatementId="other")) == (
        404,
        "ResourceNotFoundException",
        "Statement other is not found in resource policy.",
    )
    answer = lam.remove_permission(FunctionName="removals", StatementId="s3")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert failure(lambda: lam.get_policy(FunctionName="removals")) == no_resource


def test_versions_and_aliases_have_policies_of_their_own_that_go_with_them(lam: Any) -> None:
    create_function(lam, "scoped", CODE)
    add(lam, "scoped", "s3")
    version = lam.publish_version(FunctionName="scoped")["Version"]
    lam.create_alias(FunctionName="scoped", Name="live", FunctionVersion=version)
    assert failure(lambda: lam.get_policy(FunctionName="scoped", Qualifier=version))[0] == 404
    add(lam, f"scoped:{version}", "s3", Qualifier=version)
    add(lam, "scoped", "s3", Qualifier="live")
    assert policy(lam, "scoped", Qualifier=version)[0]["Statement"][0]["Resource"] == f"{ARN}scoped:{version}"
    assert policy(lam, "scoped:live")[0]["Statement"][0]["Resource"] == f"{ARN}scoped:live"
    assert policy(lam, "scoped")[0]["Statement"][0]["Resource"] == f"{ARN}scoped"

    lam.delete_alias(FunctionName="scoped", Name="live")
    lam.create_alias(FunctionName="scoped", Name="live", FunctionVersion=version)
    assert failure(lambda: lam.get_policy(FunctionName="scoped", Qualifier="live"))[0] == 404
    lam.delete_alias(FunctionName="scoped", Name="live")
    lam.delete_function(FunctionName="scoped", Qualifier=version)
    assert failure(lambda: lam.get_policy(FunctionName="scoped", Qualifier=version))[0] == 404
    assert policy(lam, "scoped")[0]["Statement"][0]["Sid"] == "s3"

    lam.delete_function(FunctionName="scoped")
    create_function(lam, "scoped", CODE)
    assert failure(lambda: lam.get_policy(FunctionName="scoped"))[0] == 404


def test_policy_over_20_kb_is_refused_and_nothing_is_added(lam: Any) -> None:
    create_function(lam, "large", CODE)
    long_arn = "arn:aws:s3:::" + "b" * 1800
    for number in range(10):
        add(lam, "large", f"s{number}", SourceArn=long_arn)
    status, code, message = failure(lambda: add(lam, "large", "s10", SourceArn=long_arn))
    assert (status, code) == (400, "PolicyLengthExceededException")
    assert message.startswith("The final policy size (") and message.endswith(
        ") is bigger than the limit (20480)."
    )
    assert len(policy(lam, "large")[0]["Statement"]) == 10


def test_resource_policy_operations_share_the_documents_add_permission_writes(lam: Any) -> None:
    create_function(lam, "generic", CODE)
    arn = f"{ARN}generic"
    add(lam, "generic", "from-add-permission")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "team", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": ["lambda:InvokeFunction", "lambda:GetFunction"], "Resource": arn},
        ],
    }  # fmt: skip
    put = lam.put_resource_policy(ResourceArn=arn, Policy=json.dumps(document))
    assert json.loads(put["Policy"]) == document
    got = lam.get_resource_policy(ResourceArn=arn)
    assert (got["Policy"], got["RevisionId"]) == (put["Policy"], put["RevisionId"])
    assert policy(lam, "generic") == (document, put["RevisionId"])
    assert failure(lambda: lam.put_resource_policy(ResourceArn=arn, Policy="{not json"))[:2] == (
        400,
        "InvalidParameterValueException",
    )
    wrong_revision = "00000000-0000-0000-0000-000000000000"
    assert failure(
        lambda: lam.put_resource_policy(ResourceArn=arn, Policy=put["Policy"], RevisionId=wrong_revision)
    )[:2] == (412, "PreconditionFailedException")
    add(lam, "generic", "later")
    assert [s["Sid"] for s in policy(lam, "generic")[0]["Statement"]] == ["team", "later"]
    assert failure(lambda: lam.delete_resource_policy(ResourceArn=arn, RevisionId=wrong_revision))[0] == 412
    lam.delete_resource_policy(ResourceArn=arn)
    assert failure(lambda: lam.get_resource_policy(ResourceArn=arn))[:2] == (404, "ResourceNotFoundException")
    assert failure(lambda: lam.delete_resource_policy(ResourceArn=arn))[:2] == (
        404,
        "ResourceNotFoundException",
    )
    assert failure(lambda: lam.put_resource_policy(ResourceArn=f"{arn}:$LATEST", Policy=put["Policy"])) == (
        400,
        "InvalidParameterValueException",
        "We currently do not support adding policies for $LATEST.",
    )
    runtime = "arn:aws:lambda:us-east-1:000000000000:runtime/python3.12/version/1"
    assert failure(lambda: lam.get_resource_policy(ResourceArn=runtime))[:2] == (
        404,
        "ResourceNotFoundException",
    )
    assert failure(lambda: lam.get_resource_policy(ResourceArn=f"{ARN}nothing"))[:2] == (
        404,
        "ResourceNotFoundException",
    )


def test_policies_survive_a_restart(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "durable", CODE)
    add(lam, "durable", "kept", Principal="123456789012")
    before = policy(lam, "durable")
    flare.restart()
    assert policy(flare.client(), "durable") == before
