"""Tags through real boto3 against ``flare serve``: TagResource, UntagResource and ListTags on
functions, code signing configs and event source mappings; tags in CreateFunction and
GetFunction; AWS's limits and messages; the ``flare:network`` tag set after creation."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flare.sandbox.cgroups import Cgroups
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


def revision(lam: Any, name: str) -> str:
    return str(lam.get_function(FunctionName=name)["Configuration"]["RevisionId"])


def test_tag_lifecycle_on_a_function(lam: Any) -> None:
    create_function(lam, "tagged", CODE, Tags={"key_a": "value_a"})
    arn = f"{ARN}tagged"
    assert lam.list_tags(Resource=arn)["Tags"] == {"key_a": "value_a"}
    assert lam.get_function(FunctionName="tagged")["Tags"] == {"key_a": "value_a"}
    before = revision(lam, "tagged")
    modified = lam.get_function(FunctionName="tagged")["Configuration"]["LastModified"]
    answer = lam.tag_resource(Resource=arn, Tags={"key_b": "value_b", "key_c": "value_c"})
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    lam.tag_resource(Resource=arn, Tags={"key_c": "value_x"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"key_a": "value_a", "key_b": "value_b", "key_c": "value_x"}
    after_tag = revision(lam, "tagged")
    assert after_tag != before
    assert lam.get_function(FunctionName="tagged")["Configuration"]["LastModified"] == modified
    answer = lam.untag_resource(Resource=arn, TagKeys=["key_c", "no-such-key"])
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.get_function(FunctionName="tagged")["Tags"] == {"key_a": "value_a", "key_b": "value_b"}
    assert revision(lam, "tagged") != after_tag
    lam.untag_resource(Resource=arn, TagKeys=["key_a", "key_b"])
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in lam.get_function(FunctionName="tagged")
    lam.delete_function(FunctionName="tagged")
    assert failure(lambda: lam.list_tags(Resource=arn)) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {arn}",
    )


def test_tag_errors_and_limits(lam: Any) -> None:
    create_function(lam, "limits", CODE)
    arn = f"{ARN}limits"
    version = lam.publish_version(FunctionName="limits")["FunctionArn"]
    qualified = (
        400,
        "InvalidParameterValueException",
        "Tags on function aliases and versions are not supported. Please specify a function ARN.",
    )
    assert failure(lambda: lam.tag_resource(Resource=version, Tags={"a": "b"})) == qualified
    assert failure(lambda: lam.tag_resource(Resource=f"{arn}:$LATEST", Tags={"a": "b"})) == qualified
    assert failure(lambda: lam.list_tags(Resource=f"{ARN}no-such-function:alias")) == qualified
    assert failure(lambda: lam.tag_resource(Resource=f"{ARN}no-such-function", Tags={"a": "b"})) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {ARN}no-such-function",
    )
    assert failure(lambda: lam.tag_resource(Resource=arn, Tags={})) == (
        400,
        "InvalidParameterValueException",
        "An error occurred and the request cannot be processed.",
    )
    assert failure(lambda: lam.tag_resource(Resource=arn, Tags={"AWS:owner": "me"}))[:2] == (
        400,
        "InvalidParameterValueException",
    )
    too_many = (400, "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
    assert failure(lambda: lam.tag_resource(Resource=arn, Tags={f"k{n}": "v" for n in range(51)})) == too_many
    lam.tag_resource(Resource=arn, Tags={f"k{n}": "v" for n in range(49)})
    assert failure(lambda: lam.tag_resource(Resource=arn, Tags={"x": "1", "y": "2"})) == too_many
    lam.tag_resource(Resource=arn, Tags={"k0": "overwritten", "x": "1"})
    assert len(lam.list_tags(Resource=arn)["Tags"]) == 50
    assert (
        failure(lambda: create_function(lam, "too-many", CODE, Tags={f"k{n}": "v" for n in range(51)}))
        == too_many
    )
    assert failure(lambda: lam.get_function(FunctionName="too-many"))[0] == 404
    provider = "arn:aws:lambda:us-east-1:000000000000:capacity-provider:cp"
    assert failure(lambda: lam.list_tags(Resource=provider)) == (
        404,
        "ResourceNotFoundException",
        f"Capacity provider not found: {provider}",
    )


def test_code_signing_configs_and_event_source_mappings_are_taggable(lam: Any, flare: Any) -> None:
    config = lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}, Tags={"team": "core"}
    )["CodeSigningConfig"]
    csc = config["CodeSigningConfigArn"]
    assert lam.list_tags(Resource=csc)["Tags"] == {"team": "core"}
    lam.tag_resource(Resource=csc, Tags={"stage": "dev"})
    lam.untag_resource(Resource=csc, TagKeys=["team"])
    assert lam.list_tags(Resource=csc)["Tags"] == {"stage": "dev"}
    lam.delete_code_signing_config(CodeSigningConfigArn=csc)
    assert failure(lambda: lam.list_tags(Resource=csc))[:2] == (404, "ResourceNotFoundException")

    sqs = flare.client("sqs")
    queue = sqs.create_queue(QueueName="tag-source")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    create_function(lam, "mapped", CODE)
    mapping = lam.create_event_source_mapping(
        FunctionName="mapped", EventSourceArn=queue_arn, Enabled=False, Tags={"source": "queue"}
    )
    esm = mapping["EventSourceMappingArn"]
    assert "Tags" not in mapping
    assert lam.list_tags(Resource=esm)["Tags"] == {"source": "queue"}
    lam.tag_resource(Resource=esm, Tags={"more": "yes"})
    lam.untag_resource(Resource=esm, TagKeys=["source"])
    assert lam.list_tags(Resource=esm)["Tags"] == {"more": "yes"}
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] in ("Creating", "Disabled")
    missing = esm[:-12] + "000000000000"
    assert failure(lambda: lam.list_tags(Resource=missing)) == (
        404,
        "ResourceNotFoundException",
        f"Event source mapping not found: {missing}",
    )


def test_tags_survive_a_restart(flare: Any, lam: Any) -> None:
    create_function(lam, "tag-durable", CODE, Tags={"a": "1"})
    lam.tag_resource(Resource=f"{ARN}tag-durable", Tags={"b": "2"})
    flare.restart()
    assert flare.client().list_tags(Resource=f"{ARN}tag-durable")["Tags"] == {"a": "1", "b": "2"}


@pytest.mark.skipif(
    os.geteuid() != 0 or Cgroups.detect() is None,
    reason="an isolated network needs the sandbox (root and cgroups)",
)
def test_flare_network_tag_set_by_tag_resource_applies_to_the_next_environment(flare: Any, lam: Any) -> None:
    source = (
        "import socket\n"
        "def handler(event, context):\n"
        "    return sorted(name for _, name in socket.if_nameindex())\n"
    )
    create_function(lam, "retagged", python_function(source))

    def interfaces() -> list[str]:
        result: list[str] = json.loads(lam.invoke(FunctionName="retagged")["Payload"].read())
        return result

    assert interfaces() != ["lo"]
    lam.tag_resource(Resource=f"{ARN}retagged", Tags={"flare:network": "isolated"})
    assert interfaces() == ["lo"]
    lam.untag_resource(Resource=f"{ARN}retagged", TagKeys=["flare:network"])
    assert interfaces() != ["lo"]
