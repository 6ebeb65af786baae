"""Accounts and regions, as a team's code meets them: the access key picks the account (12 digits:
that account; anything else ``000000000000``) and the signature's region the region. Two scopes'
resources of the same name never meet; another region's ARN is not reachable; another account's
function answers only what its resource policy allows."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, FlareServer, create_function, launch, python_function, zip_files
from tests.roles import ALLOW_ALL, attach_policy

ALICE, BOB = "111122223333", "444455556666"
DEFAULT_ACCOUNT = "000000000000"

WHO = """
import os, boto3
def handler(event, context):
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    return {"owner": OWNER, "arn": context.invoked_function_arn, "sees": sorted(names),
            "region": os.environ["AWS_REGION"]}
"""


ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"event": event, "arn": context.invoked_function_arn})}
"""


def who(owner: str) -> bytes:
    return python_function(f"OWNER = {owner!r}\n" + WHO)


def invoke(client: Any, name: str, **extra: Any) -> Any:
    """The JSON value ``name`` answers (an object, or any other JSON value)."""
    response = client.invoke(FunctionName=name, Payload=b"{}", **extra)
    assert "FunctionError" not in response
    return json.loads(response["Payload"].read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    flare = launch(tmp_path_factory.mktemp("scopes"))
    attach_policy(flare.url, ROLE, ALLOW_ALL)  # WHO lists functions with its own credentials
    yield flare
    flare.stop()


def error_of(raised: pytest.ExceptionInfo[Any]) -> tuple[str, str, int]:
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_two_accounts_functions_of_one_name_never_meet(server: FlareServer) -> None:
    alice, bob, default = server.client(key=ALICE), server.client(key=BOB), server.client(key="test")
    created = create_function(alice, "orders", who("alice"))
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ALICE}:function:orders"
    create_function(bob, "orders", who("bob"))
    create_function(bob, "bob-only", who("bob"))

    assert invoke(alice, "orders")["owner"] == "alice"
    assert invoke(bob, "orders")["owner"] == "bob"
    assert sorted(f["FunctionName"] for f in alice.list_functions()["Functions"]) == ["orders"]
    assert sorted(f["FunctionName"] for f in bob.list_functions()["Functions"]) == ["bob-only", "orders"]
    assert "orders" not in [f["FunctionName"] for f in default.list_functions()["Functions"]]
    with pytest.raises(alice.exceptions.ResourceNotFoundException):
        alice.get_function(FunctionName="bob-only")

    # what the function does with its own boto3 acts in its own account and region
    seen = invoke(bob, "orders")
    assert seen["sees"] == ["bob-only", "orders"] and seen["region"] == "us-east-1"
    assert seen["arn"] == f"arn:aws:lambda:us-east-1:{BOB}:function:orders"

    bob.delete_function(FunctionName="orders")
    assert invoke(alice, "orders")["owner"] == "alice"
    assert alice.get_account_settings()["AccountUsage"]["FunctionCount"] == 1


def test_a_region_sees_only_its_own_and_another_regions_arn_is_not_reachable(server: FlareServer) -> None:
    east, west = server.client(key=ALICE), server.client(key=ALICE, region="eu-west-1")
    created = create_function(west, "billing", who("west"))
    assert created["FunctionArn"] == f"arn:aws:lambda:eu-west-1:{ALICE}:function:billing"
    assert invoke(west, "billing")["region"] == "eu-west-1"
    with pytest.raises(east.exceptions.ResourceNotFoundException):
        east.get_function(FunctionName="billing")
    with pytest.raises(east.exceptions.ResourceNotFoundException) as raised:
        east.get_function(FunctionName=created["FunctionArn"])
    assert error_of(raised)[1] == "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    with pytest.raises(east.exceptions.ResourceNotFoundException) as raised:
        east.invoke(FunctionName=created["FunctionArn"], Payload=b"{}")
    assert error_of(raised)[1] == "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"


def test_another_accounts_function_answers_what_its_policy_allows(server: FlareServer) -> None:
    alice, bob = server.client(key=ALICE), server.client(key=BOB)
    arn = create_function(alice, "shared", who("alice"))["FunctionArn"]
    denied = (
        f"User: arn:aws:iam::{BOB}:root is not authorized to perform: lambda:InvokeFunction on resource: "
        f"{arn} because no resource-based policy allows the lambda:InvokeFunction action"
    )
    with pytest.raises(bob.exceptions.ClientError) as raised:
        bob.invoke(FunctionName=arn, Payload=b"{}")
    assert error_of(raised) == ("AccessDeniedException", denied, 403)

    alice.add_permission(
        FunctionName="shared", StatementId="bob", Action="lambda:InvokeFunction", Principal=BOB
    )
    assert invoke(bob, arn)["owner"] == "alice"
    assert invoke(bob, f"{ALICE}:function:shared")["owner"] == "alice"  # a partial ARN too
    response = bob.invoke(FunctionName=arn, Payload=b"{}", InvocationType="Event")
    assert response["StatusCode"] == 202
    with pytest.raises(bob.exceptions.ClientError) as raised:
        bob.get_function(FunctionName=arn)  # only InvokeFunction was granted
    assert error_of(raised)[0] == "AccessDeniedException" and error_of(raised)[2] == 403
    with pytest.raises(bob.exceptions.ClientError) as raised:
        bob.invoke(FunctionName="arn:aws:lambda:us-east-1:999988887777:function:nobody", Payload=b"{}")
    assert error_of(raised)[0] == "AccessDeniedException"


CALLER = """
import boto3
def handler(event, context):
    client = boto3.client("lambda")
    try:
        return {"status": client.invoke(FunctionName=event["target"], Payload=b"{}")["StatusCode"]}
    except client.exceptions.ClientError as error:
        return {"error": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
"""


def test_another_accounts_policy_naming_only_the_callers_role_lets_its_function_invoke(
    server: FlareServer,
) -> None:
    alice, bob = server.client(key=ALICE), server.client()  # bob: the default account's key
    role = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/caller-role"
    attach_policy(server.url, role, ALLOW_ALL)  # as bob's operator would
    target = create_function(alice, "granted", who("alice"))["FunctionArn"]
    create_function(bob, "caller", python_function(CALLER), Role=role, Timeout=30)
    bob.get_waiter("function_active_v2").wait(FunctionName="caller")

    def call() -> dict[str, Any]:
        answer = bob.invoke(FunctionName="caller", Payload=json.dumps({"target": target}).encode())
        result: dict[str, Any] = json.loads(answer["Payload"].read())
        return result

    assert call() == {
        "error": "AccessDeniedException",
        "message": f"User: arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/caller-role/caller is not authorized "
        "to perform: "
        f"lambda:InvokeFunction on resource: {target} because no resource-based policy allows the "
        "lambda:InvokeFunction action",
    }
    alice.add_permission(
        FunctionName="granted", StatementId="role", Action="lambda:InvokeFunction", Principal=role
    )
    assert call() == {"status": 200}
    with pytest.raises(bob.exceptions.ClientError) as raised:  # the role, not bob's whole account
        bob.invoke(FunctionName=target, Payload=b"{}")
    assert error_of(raised)[0] == "AccessDeniedException"


def test_another_accounts_resources_named_by_arn_are_refused(server: FlareServer) -> None:
    alice, bob = server.client(key=ALICE), server.client(key=BOB)
    arn = create_function(alice, "tagged", who("alice"))["FunctionArn"]
    create_function(bob, "tagged", who("bob"))  # Bob's own function of that name stays untouched
    with pytest.raises(bob.exceptions.ClientError) as raised:
        bob.tag_resource(Resource=arn, Tags={"team": "bob"})
    assert error_of(raised)[0] == "AccessDeniedException"
    with pytest.raises(bob.exceptions.ClientError) as raised:
        bob.get_resource_policy(ResourceArn=arn)
    assert error_of(raised)[0] == "AccessDeniedException"
    bob_arn = bob.get_function(FunctionName="tagged")["Configuration"]["FunctionArn"]
    assert bob.list_tags(Resource=bob_arn)["Tags"] == {}
    alice.tag_resource(Resource=arn, Tags={"team": "alice"})
    assert alice.list_tags(Resource=arn)["Tags"] == {"team": "alice"}


def test_another_accounts_layer_is_usable_once_its_policy_grants_it(server: FlareServer) -> None:
    alice, bob = server.client(key=ALICE), server.client(key=BOB)
    content = {"ZipFile": zip_files({"python/shared_mod.py": "VALUE = 'from alice'\n"})}
    arn = alice.publish_layer_version(LayerName="shared", Content=content)["LayerVersionArn"]
    denied = (
        f"User: arn:aws:iam::{BOB}:root is not authorized to perform: lambda:GetLayerVersion on resource: "
        f"{arn} because no resource-based policy allows the lambda:GetLayerVersion action"
    )
    source = "import shared_mod\ndef handler(event, context):\n    return shared_mod.VALUE\n"
    with pytest.raises(bob.exceptions.ClientError) as raised:
        create_function(bob, "layered", python_function(source), Layers=[arn])
    assert error_of(raised) == ("AccessDeniedException", denied, 403)
    with pytest.raises(bob.exceptions.ClientError) as raised:
        bob.get_layer_version_by_arn(Arn=arn)
    assert error_of(raised)[0] == "AccessDeniedException"

    alice.add_layer_version_permission(
        LayerName="shared", VersionNumber=1, StatementId="bob", Action="lambda:GetLayerVersion", Principal=BOB
    )
    assert bob.get_layer_version_by_arn(Arn=arn)["LayerVersionArn"] == arn
    create_function(bob, "layered", python_function(source), Layers=[arn])
    assert invoke(bob, "layered") == "from alice"
    alice.delete_layer_version(LayerName="shared", VersionNumber=1)
    bob.update_function_configuration(FunctionName="layered", MemorySize=256)  # a new environment
    bob.get_waiter("function_updated_v2").wait(FunctionName="layered")
    assert invoke(bob, "layered") == "from alice"  # a listed version stays with the function


def test_queues_streams_and_logs_are_per_account(server: FlareServer) -> None:
    alice_sqs, bob_sqs = server.client("sqs", key=ALICE), server.client("sqs", key=BOB)
    alice_url = alice_sqs.create_queue(QueueName="jobs")["QueueUrl"]
    bob_url = bob_sqs.create_queue(QueueName="jobs")["QueueUrl"]
    assert alice_url.endswith(f"/{ALICE}/jobs") and bob_url.endswith(f"/{BOB}/jobs")
    alice_sqs.send_message(QueueUrl=alice_url, MessageBody="for alice")
    assert "Messages" not in bob_sqs.receive_message(QueueUrl=bob_url, WaitTimeSeconds=0)
    with pytest.raises(bob_sqs.exceptions.QueueDoesNotExist):
        bob_sqs.receive_message(QueueUrl=alice_url, WaitTimeSeconds=0)  # Alice's URL, Bob's key
    got = alice_sqs.receive_message(QueueUrl=alice_url, WaitTimeSeconds=0)["Messages"]
    assert [message["Body"] for message in got] == ["for alice"]
    arn = alice_sqs.get_queue_attributes(QueueUrl=alice_url, AttributeNames=["QueueArn"])["Attributes"]
    assert arn["QueueArn"] == f"arn:aws:sqs:us-east-1:{ALICE}:jobs"

    alice_kinesis, bob_kinesis = server.client("kinesis", key=ALICE), server.client("kinesis", key=BOB)
    alice_kinesis.create_stream(StreamName="clicks", ShardCount=1)
    with pytest.raises(bob_kinesis.exceptions.ResourceNotFoundException):
        bob_kinesis.describe_stream_summary(StreamName="clicks")

    alice, bob = server.client(key=ALICE), server.client(key=BOB)
    create_function(alice, "talker", python_function("def handler(e, c):\n    print('alice speaks')\n"))
    create_function(bob, "talker", python_function("def handler(e, c):\n    print('bob speaks')\n"))
    alice.invoke(FunctionName="talker", Payload=b"{}")
    bob.invoke(FunctionName="talker", Payload=b"{}")
    for key, spoken in ((ALICE, "alice speaks"), (BOB, "bob speaks")):
        logs = server.client("logs", key=key)
        messages = [e["message"] for e in logs.filter_log_events(logGroupName="/aws/lambda/talker")["events"]]
        assert any(spoken in message for message in messages)
        assert not any("speaks" in message and spoken not in message for message in messages)
        group = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/talker")["logGroups"][0]
        assert group["arn"].startswith(f"arn:aws:logs:us-east-1:{key}:log-group:")


def test_each_account_has_its_own_concurrency_limit(server: FlareServer) -> None:
    alice, bob = server.client(key=ALICE, region="ap-south-1"), server.client(key=BOB, region="ap-south-1")
    create_function(alice, "hog", who("alice"))
    alice.put_function_concurrency(FunctionName="hog", ReservedConcurrentExecutions=900)
    assert alice.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    assert bob.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000


def test_function_urls_of_another_account_serve_its_function(server: FlareServer) -> None:
    bob = server.client(key=BOB, region="us-west-2")
    create_function(bob, "web", python_function(ECHO))
    url = bob.create_function_url_config(FunctionName="web", AuthType="NONE")["FunctionUrl"]
    assert ".lambda-url.us-west-2." in url
    host = url.removeprefix("http://").rstrip("/")
    connection = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=30)
    connection.request("GET", "/", headers={"Host": host})
    response = connection.getresponse()
    event = json.loads(response.read())
    connection.close()
    assert response.status == 200
    assert event["arn"] == f"arn:aws:lambda:us-west-2:{BOB}:function:web"
    assert event["event"]["requestContext"]["accountId"] == "anonymous"  # AuthType NONE, as on Lambda


def test_every_account_and_region_comes_back_after_a_restart(tmp_path: Path) -> None:
    flare = launch(tmp_path)
    try:
        attach_policy(flare.url, ROLE, ALLOW_ALL)
        alice = flare.client(key=ALICE, region="eu-central-1")
        create_function(alice, "durable", who("alice"))
        alice_sqs = flare.client("sqs", key=ALICE, region="eu-central-1")
        url = alice_sqs.create_queue(QueueName="kept")["QueueUrl"]
        alice_sqs.send_message(QueueUrl=url, MessageBody="still here")
        flare.restart()
        alice = flare.client(key=ALICE, region="eu-central-1")
        assert invoke(alice, "durable")["owner"] == "alice"
        assert [f["FunctionName"] for f in alice.list_functions()["Functions"]] == ["durable"]
        assert [f["FunctionName"] for f in flare.client().list_functions()["Functions"]] == []
        alice_sqs = flare.client("sqs", key=ALICE, region="eu-central-1")
        deadline = time.monotonic() + 5
        bodies: list[str] = []
        while not bodies and time.monotonic() < deadline:
            got = alice_sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
            bodies = [message["Body"] for message in got]
        assert bodies == ["still here"]
    finally:
        flare.stop()
