"""Code signing configs through real boto3 against ``flare serve``: the config's lifecycle, the
function bindings, and what ``Enforce`` and ``Warn`` do to (necessarily unsigned) code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import create_function, python_function

CODE = python_function("def handler(event, context):\n    return event\n")
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/test"


def failure(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def new_config(lam: Any, policy: str | None = None, **extra: Any) -> dict[str, Any]:
    if policy is not None:
        extra["CodeSigningPolicies"] = {"UntrustedArtifactOnDeployment": policy}
    answer = lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}, **extra
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    config: dict[str, Any] = answer["CodeSigningConfig"]
    return config


def test_config_lifecycle(lam: Any) -> None:
    config = new_config(lam, Description="Testing CodeSigning Config")
    assert set(config) == {
        "CodeSigningConfigId",
        "CodeSigningConfigArn",
        "Description",
        "AllowedPublishers",
        "CodeSigningPolicies",
        "LastModified",
    }
    arn = config["CodeSigningConfigArn"]
    assert arn == f"arn:aws:lambda:us-east-1:000000000000:code-signing-config:{config['CodeSigningConfigId']}"
    assert config["CodeSigningConfigId"].startswith("csc-") and len(config["CodeSigningConfigId"]) == 21
    assert config["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert config["AllowedPublishers"] == {"SigningProfileVersionArns": [PROFILE]}
    updated = lam.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"}
    )["CodeSigningConfig"]
    assert updated["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    assert updated["Description"] == "Testing CodeSigning Config"
    unchanged = lam.update_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert unchanged["CodeSigningPolicies"] == updated["CodeSigningPolicies"]
    assert (
        lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]["CodeSigningPolicies"]
        == (updated["CodeSigningPolicies"])
    )
    assert arn in [c["CodeSigningConfigArn"] for c in lam.list_code_signing_configs()["CodeSigningConfigs"]]
    answer = lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    not_found = (
        404,
        "ResourceNotFoundException",
        f"The Lambda code signing configuration {arn} can not be found.",
    )
    assert failure(lambda: lam.get_code_signing_config(CodeSigningConfigArn=arn)) == not_found
    assert (
        failure(lambda: lam.update_code_signing_config(CodeSigningConfigArn=arn, Description="x"))
        == not_found
    )
    assert failure(lambda: lam.delete_code_signing_config(CodeSigningConfigArn=arn)) == not_found
    assert failure(lambda: lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)) == not_found


def test_listing_pages(lam: Any) -> None:
    made = [new_config(lam)["CodeSigningConfigArn"] for _ in range(3)]
    first = lam.list_code_signing_configs(MaxItems=2)
    second = lam.list_code_signing_configs(MaxItems=2, Marker=first["NextMarker"])
    seen = [c["CodeSigningConfigArn"] for c in first["CodeSigningConfigs"] + second["CodeSigningConfigs"]]
    assert [arn for arn in seen if arn in made] == [arn for arn in made if arn in seen]
    pages = lam.get_paginator("list_code_signing_configs").paginate(PaginationConfig={"PageSize": 1})
    every = [c["CodeSigningConfigArn"] for page in pages for c in page["CodeSigningConfigs"]]
    assert set(made) <= set(every) and len(every) == len(set(every))


def test_function_bindings(lam: Any) -> None:
    arn = new_config(lam)["CodeSigningConfigArn"]
    create_function(lam, "signed", CODE)
    assert (
        lam.get_function_code_signing_config(FunctionName="signed")["ResponseMetadata"]["HTTPStatusCode"]
        == 200
    )
    assert "CodeSigningConfigArn" not in lam.get_function_code_signing_config(FunctionName="signed")
    assert (
        lam.delete_function_code_signing_config(FunctionName="signed")["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    put = lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName="signed")
    assert (put["CodeSigningConfigArn"], put["FunctionName"]) == (arn, "signed")
    got = lam.get_function_code_signing_config(FunctionName=f"{ARN}signed")
    assert (got["CodeSigningConfigArn"], got["FunctionName"]) == (arn, "signed")
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == [
        f"{ARN}signed"
    ]
    status, code, _ = failure(lambda: lam.delete_code_signing_config(CodeSigningConfigArn=arn))
    assert (status, code) == (409, "ResourceConflictException")
    lam.delete_function_code_signing_config(FunctionName="signed")
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []

    missing_config = arn[:-1] + ("x" if arn[-1] != "x" else "y")
    config_not_found = (
        404,
        "CodeSigningConfigNotFoundException",
        "The code signing configuration cannot be found. Check that the provided configuration is not "
        f"deleted: {missing_config}.",
    )
    assert (
        failure(
            lambda: lam.put_function_code_signing_config(
                CodeSigningConfigArn=missing_config, FunctionName="signed"
            )
        )
        == config_not_found
    )
    assert (
        failure(
            lambda: lam.put_function_code_signing_config(
                CodeSigningConfigArn=missing_config, FunctionName="nothing"
            )
        )
        == config_not_found
    )
    function_not_found = (404, "ResourceNotFoundException", f"Function not found: {ARN}nothing")
    assert (
        failure(
            lambda: lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName="nothing")
        )
        == function_not_found
    )
    assert failure(lambda: lam.get_function_code_signing_config(FunctionName="nothing")) == function_not_found
    assert (
        failure(lambda: lam.delete_function_code_signing_config(FunctionName="nothing")) == function_not_found
    )

    lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName="signed")
    lam.delete_function(FunctionName="signed")
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)


def test_enforce_refuses_unsigned_code_and_warn_deploys_it(lam: Any) -> None:
    enforce = new_config(lam, "Enforce")["CodeSigningConfigArn"]
    warn = new_config(lam, "Warn")["CodeSigningConfigArn"]
    refused = failure(lambda: create_function(lam, "enforced", CODE, CodeSigningConfigArn=enforce))
    assert refused == (
        400,
        "CodeVerificationFailedException",
        "Lambda cannot deploy the function. The function or layer might be signed using a signature that the "
        f"client is not configured to accept. Check the provided signature for {ARN}enforced.",
    )
    assert failure(lambda: lam.get_function(FunctionName="enforced"))[0] == 404
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=enforce)["FunctionArns"] == []

    create_function(lam, "warned", CODE, CodeSigningConfigArn=warn)
    assert lam.get_function_code_signing_config(FunctionName="warned")["CodeSigningConfigArn"] == warn
    lam.update_function_code(FunctionName="warned", ZipFile=CODE)
    lam.put_function_code_signing_config(CodeSigningConfigArn=enforce, FunctionName="warned")
    status, code, _ = failure(lambda: lam.update_function_code(FunctionName="warned", ZipFile=CODE))
    assert (status, code) == (400, "CodeVerificationFailedException")
    lam.update_function_configuration(FunctionName="warned", Description="configuration is not code")

    missing = warn[:-1] + ("x" if warn[-1] != "x" else "y")
    assert failure(lambda: create_function(lam, "unknown-config", CODE, CodeSigningConfigArn=missing))[
        :2
    ] == (
        404,
        "CodeSigningConfigNotFoundException",
    )


def test_configs_and_bindings_survive_a_restart(flare: Any, lam: Any) -> None:
    arn = new_config(lam, "Warn", Description="durable")["CodeSigningConfigArn"]
    create_function(lam, "signed-durable", CODE, CodeSigningConfigArn=arn)
    flare.restart()
    client = flare.client()
    assert (
        client.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]["Description"]
        == "durable"
    )
    assert (
        client.get_function_code_signing_config(FunctionName="signed-durable")["CodeSigningConfigArn"] == arn
    )
