"""Recursion configs, runtime management configs, and the Lambda Managed Instances operations
Flare answers as unsupported, through real boto3 against ``flare serve``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import create_function, python_function

CODE = python_function("def handler(event, context):\n    return event\n")
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
RUNTIME_VERSION = "arn:aws:lambda:us-east-1::runtime:0123456789abcdef0123456789abcdef"


def failure(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_recursion_config_defaults_to_terminate_and_goes_with_the_function(lam: Any) -> None:
    create_function(lam, "loops", CODE)
    assert lam.get_function_recursion_config(FunctionName="loops")["RecursiveLoop"] == "Terminate"
    put = lam.put_function_recursion_config(FunctionName="loops", RecursiveLoop="Allow")
    assert (put["ResponseMetadata"]["HTTPStatusCode"], put["RecursiveLoop"]) == (200, "Allow")
    assert lam.get_function_recursion_config(FunctionName=f"{ARN}loops")["RecursiveLoop"] == "Allow"
    not_found = (404, "ResourceNotFoundException", f"Function not found: {ARN}nothing")
    assert failure(lambda: lam.get_function_recursion_config(FunctionName="nothing")) == not_found
    assert failure(
        lambda: lam.put_function_recursion_config(FunctionName="nothing", RecursiveLoop="Allow")
    ) == (not_found)
    lam.delete_function(FunctionName="loops")
    create_function(lam, "loops", CODE)
    assert lam.get_function_recursion_config(FunctionName="loops")["RecursiveLoop"] == "Terminate"


def test_runtime_management_config_per_version(lam: Any) -> None:
    create_function(lam, "managed", CODE)
    assert lam.get_runtime_management_config(FunctionName="managed")["UpdateRuntimeOn"] == "Auto"
    got = lam.get_runtime_management_config(FunctionName="managed")
    assert (got["FunctionArn"], "RuntimeVersionArn" in got) == (f"{ARN}managed", False)
    put = lam.put_runtime_management_config(
        FunctionName="managed", UpdateRuntimeOn="Manual", RuntimeVersionArn=RUNTIME_VERSION
    )
    assert (put["UpdateRuntimeOn"], put["FunctionArn"], put["RuntimeVersionArn"]) == (
        "Manual",
        f"{ARN}managed",
        RUNTIME_VERSION,
    )
    version = lam.publish_version(FunctionName="managed")["Version"]
    inherited = lam.get_runtime_management_config(FunctionName="managed", Qualifier=version)
    assert (inherited["UpdateRuntimeOn"], inherited["FunctionArn"]) == ("Manual", f"{ARN}managed:{version}")
    lam.put_runtime_management_config(
        FunctionName="managed", Qualifier=version, UpdateRuntimeOn="FunctionUpdate"
    )
    assert lam.get_runtime_management_config(FunctionName="managed")["UpdateRuntimeOn"] == "Manual"
    after = lam.get_runtime_management_config(FunctionName="managed", Qualifier=version)
    assert (after["UpdateRuntimeOn"], "RuntimeVersionArn" in after) == ("FunctionUpdate", False)

    assert failure(
        lambda: lam.put_runtime_management_config(FunctionName="managed", UpdateRuntimeOn="Manual")
    )[:2] == (400, "InvalidParameterValueException")
    assert failure(
        lambda: lam.put_runtime_management_config(
            FunctionName="managed", UpdateRuntimeOn="Auto", RuntimeVersionArn=RUNTIME_VERSION
        )
    )[:2] == (400, "InvalidParameterValueException")
    other_region = RUNTIME_VERSION.replace("us-east-1", "eu-west-1")
    assert failure(
        lambda: lam.put_runtime_management_config(
            FunctionName="managed", UpdateRuntimeOn="Manual", RuntimeVersionArn=other_region
        )
    )[:2] == (400, "InvalidParameterValueException")
    lam.create_alias(FunctionName="managed", Name="live", FunctionVersion=version)
    assert failure(lambda: lam.get_runtime_management_config(FunctionName="managed", Qualifier="live"))[
        :2
    ] == (
        400,
        "InvalidParameterValueException",
    )
    lam.delete_alias(FunctionName="managed", Name="live")
    assert failure(lambda: lam.get_runtime_management_config(FunctionName="managed", Qualifier="9")) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {ARN}managed:9",
    )
    assert failure(lambda: lam.get_runtime_management_config(FunctionName="nothing"))[:2] == (
        404,
        "ResourceNotFoundException",
    )

    lam.delete_function(FunctionName="managed", Qualifier=version)
    lam.delete_function(FunctionName="managed")
    create_function(lam, "managed", CODE)
    assert lam.get_runtime_management_config(FunctionName="managed")["UpdateRuntimeOn"] == "Auto"


def test_settings_survive_a_restart(flare: Any, lam: Any) -> None:
    create_function(lam, "settled", CODE)
    lam.put_function_recursion_config(FunctionName="settled", RecursiveLoop="Allow")
    lam.put_runtime_management_config(FunctionName="settled", UpdateRuntimeOn="FunctionUpdate")
    flare.restart()
    client = flare.client()
    assert client.get_function_recursion_config(FunctionName="settled")["RecursiveLoop"] == "Allow"
    assert client.get_runtime_management_config(FunctionName="settled")["UpdateRuntimeOn"] == "FunctionUpdate"


def test_managed_instances_answer_not_supported_in_awss_shapes(lam: Any) -> None:
    assert lam.list_capacity_providers()["CapacityProviders"] == []
    status, code, message = failure(
        lambda: lam.create_capacity_provider(
            CapacityProviderName="cp",
            VpcConfig={"SubnetIds": ["subnet-1"], "SecurityGroupIds": []},
            PermissionsConfig={"CapacityProviderOperatorRoleArn": "arn:aws:iam::000000000000:role/op"},
        )
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "Flare does not support Lambda Managed Instances" in message
    provider = "arn:aws:lambda:us-east-1:000000000000:capacity-provider:cp"
    for call in (
        lambda: lam.get_capacity_provider(CapacityProviderName="cp"),
        lambda: lam.update_capacity_provider(CapacityProviderName="cp"),
        lambda: lam.delete_capacity_provider(CapacityProviderName="cp"),
        lambda: lam.list_function_versions_by_capacity_provider(CapacityProviderName="cp"),
    ):
        status, code, message = failure(call)
        assert (status, code) == (404, "ResourceNotFoundException")
        assert message.startswith(f"Capacity provider not found: {provider}")

    create_function(lam, "scaled", CODE)
    version = lam.publish_version(FunctionName="scaled")["Version"]
    for call in (
        lambda: lam.get_function_scaling_config(FunctionName="scaled", Qualifier=version),
        lambda: lam.put_function_scaling_config(
            FunctionName="scaled", Qualifier=version, FunctionScalingConfig={"MinExecutionEnvironments": 1}
        ),
    ):
        status, code, message = failure(call)
        assert (status, code) == (400, "InvalidParameterValueException")
        assert "Flare does not support Lambda Managed Instances" in message
    assert failure(lambda: lam.get_function_scaling_config(FunctionName="scaled", Qualifier="7")) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {ARN}scaled:7",
    )
