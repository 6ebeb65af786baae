"""The policies of execution roles against a real ``flare serve``: ``flare roles put|get|list|
delete`` (SigV4-signed, the key's account) and the ``/flare/v1/roles`` routes."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import FLARE, FlareServer, create_function, launch, python_function
from tests.signing import signed_urlopen

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/worker-role"
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"}],
}
QUEUES = {
    "Statement": {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:*:*:orders"}
}


def roles(
    flare: FlareServer, *args: str, stdin: str | None = None, key: str = ACCOUNT
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    return subprocess.run(
        [str(FLARE), "roles", *args, "--endpoint-url", flare.url],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def _file(tmp_path: Path, name: str, document: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_put_get_list_delete_through_the_cli(flare: FlareServer, tmp_path: Path) -> None:
    put = roles(flare, "put", ROLE, _file(tmp_path, "read.json", READ))
    assert put.returncode == 0, put.stderr
    assert roles(flare, "put", ROLE, "-", "--name", "queues", stdin=json.dumps(QUEUES)).returncode == 0
    one = roles(flare, "get", ROLE, "--name", "default")
    assert one.returncode == 0 and json.loads(one.stdout) == READ
    every = roles(flare, "get", ROLE)
    assert json.loads(every.stdout) == {"default": READ, "queues": QUEUES}
    listed = roles(flare, "list")
    assert listed.stdout.splitlines() == [f"{ROLE}  default,queues"]
    assert roles(flare, "list", key="210987654321").stdout == ""  # another account's roles
    gone = roles(flare, "delete", ROLE, "--name", "queues")
    assert gone.returncode == 0 and "1 policies detached" in gone.stderr
    missing = roles(flare, "get", ROLE, "--name", "queues")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: NoSuchEntity: The role policy with name queues cannot be found."
    assert roles(flare, "delete", ROLE).returncode == 0
    assert roles(flare, "list").stdout == ""


def test_a_malformed_policy_gets_iams_words(flare: FlareServer) -> None:
    principal = {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}}
    refused = roles(flare, "put", ROLE, "-", stdin=json.dumps(principal))
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        == "error: MalformedPolicyDocument: Policy document should not specify a principal."
    )
    no_json = roles(flare, "put", ROLE, "-", stdin="{not json")
    assert no_json.stderr.strip() == "error: MalformedPolicyDocument: Syntax errors in policy."
    bad_role = roles(flare, "put", "arn:aws:iam::123:role/x", "-", stdin=json.dumps(READ))
    assert (
        bad_role.stderr.strip()
        == "error: InvalidParameterValueException: Invalid role ARN: arn:aws:iam::123:role/x"
    )


def test_another_accounts_role_is_not_the_callers_to_manage(flare: FlareServer) -> None:
    refused = roles(flare, "put", ROLE, "-", stdin=json.dumps(READ), key="210987654321")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: AccessDeniedException: User: arn:aws:iam::210987654321:root")


def _http(
    flare: FlareServer, method: str, query: str, body: bytes | None = None, signed: bool = True
) -> tuple[int, Any]:
    call = urllib.request.Request(f"{flare.url}/flare/v1/roles/policies?{query}", data=body, method=method)
    call.add_header("Content-Type", "application/json")
    try:
        with (
            signed_urlopen(call, timeout=10)
            if signed
            else urllib.request.urlopen(call, timeout=10) as response
        ):
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, (error.headers.get("x-amzn-ErrorType"), json.loads(error.read()))


def test_the_route_answers_in_aws_error_shape_and_policies_survive_a_restart(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        default_role = "arn:aws:iam::000000000000:role/r"  # the key "test" acts in the default account
        status, (kind, _) = _http(
            server, "PUT", f"RoleArn={default_role}&PolicyName=p", json.dumps(READ).encode(), False
        )
        assert (status, kind) == (403, "MissingAuthenticationTokenException")
        status, answer = _http(
            server, "PUT", f"RoleArn={default_role}&PolicyName=p", json.dumps(READ).encode()
        )
        assert (status, answer) == (200, {"RoleArn": default_role, "PolicyName": "p"})
        status, (kind, body) = _http(
            server, "PUT", f"RoleArn={default_role}&PolicyName=q", b'{"Statement": []}'
        )
        assert (status, kind, body["Message"]) == (400, "MalformedPolicyDocument", "Syntax errors in policy.")
        status, (kind, _) = _http(server, "GET", "PolicyName=p")
        assert (status, kind) == (400, "InvalidParameterValueException")
        server.restart()
        status, answer = _http(server, "GET", f"RoleArn={default_role}&PolicyName=p")
        assert (status, answer["PolicyDocument"]) == (200, READ)
    finally:
        server.stop()


CALLER_SOURCE = """\
import os
import urllib.error
import urllib.parse
import urllib.request

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

def grant(role):
    query = urllib.parse.urlencode({"RoleArn": role, "PolicyName": "mine"})
    url = os.environ["AWS_ENDPOINT_URL"] + "/flare/v1/roles/policies?" + query
    body = b'{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}'
    signed = AWSRequest("PUT", url, data=body, headers={"Content-Type": "application/json"})
    credentials = botocore.session.get_session().get_credentials()
    SigV4Auth(credentials, "lambda", os.environ["AWS_REGION"]).add_auth(signed)
    try:
        call = urllib.request.Request(url, data=body, method="PUT", headers=dict(signed.headers))
        urllib.request.urlopen(call)
        return {"ok": True}
    except urllib.error.HTTPError as error:
        return {"ok": False, "code": error.headers["x-amzn-ErrorType"]}

def handler(event, context):
    try:
        if event["op"] == "grant":
            return grant(event["role"])
        if event["op"] == "list":
            boto3.client("lambda").list_functions()
        elif event["op"] == "invoke":
            boto3.client("lambda").invoke(FunctionName=event["target"])
        elif event["op"] == "sqs":
            sqs = boto3.client("sqs")
            sqs.send_message(QueueUrl=sqs.create_queue(QueueName=event["queue"])["QueueUrl"], MessageBody="x")
        return {"ok": True}
    except Exception as error:
        found = error.response["Error"]
        return {"ok": False, "code": found["Code"], "message": found["Message"]}
"""


def _call(lam: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    result: dict[str, Any] = json.loads(answer["Payload"].read())
    return result


def test_a_functions_own_calls_are_authorized_as_its_role(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    role = f"arn:aws:iam::000000000000:role/caller-{uuid.uuid4().hex[:8]}"
    caller, target = f"caller-{uuid.uuid4().hex[:8]}", f"target-{uuid.uuid4().hex[:8]}"
    create_function(lam, target, python_function("def handler(event, context):\n    return 1\n"))
    lam.create_function(
        FunctionName=caller,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": python_function(CALLER_SOURCE)},
        MemorySize=1024,
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=caller)
    # the default policy: the account's data plane, no control plane
    assert _call(lam, caller, {"op": "invoke", "target": target}) == {"ok": True}
    assert _call(lam, caller, {"op": "sqs", "queue": f"q-{caller}"}) == {"ok": True}
    assert _call(lam, caller, {"op": "list"}) == {
        "ok": False,
        "code": "AccessDeniedException",
        "message": f"User: arn:aws:sts::000000000000:assumed-role/{role.rsplit('/', 1)[1]}/{caller} is not "
        "authorized to perform: lambda:ListFunctions on resource: * because no identity-based policy allows "
        "the lambda:ListFunctions action",
    }
    # an attached policy replaces the default
    listing = {"Statement": {"Effect": "Allow", "Action": "lambda:List*", "Resource": "*"}}
    assert roles(flare, "put", role, "-", stdin=json.dumps(listing), key="test").returncode == 0
    assert _call(lam, caller, {"op": "list"}) == {"ok": True}
    denied = _call(lam, caller, {"op": "invoke", "target": target})
    assert denied["code"] == "AccessDeniedException" and "lambda:InvokeFunction" in denied["message"]
    denied = _call(lam, caller, {"op": "sqs", "queue": f"q-{caller}"})
    assert denied["code"] == "AccessDenied"  # SQS's Query-era code
    assert roles(flare, "delete", role, key="test").returncode == 0
    assert _call(lam, caller, {"op": "invoke", "target": target}) == {"ok": True}
    # nor may it grant itself more through Flare's own routes
    assert _call(lam, caller, {"op": "grant", "role": role}) == {"ok": False, "code": "AccessDeniedException"}
    assert roles(flare, "list", key="test").stdout == ""
