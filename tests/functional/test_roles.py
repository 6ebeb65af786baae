"""The policies of execution roles against a real ``flare serve``: ``flare roles put|get|list|
delete`` (SigV4-signed, the key's account) and the ``/flare/v1/roles`` routes."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import FLARE, FlareServer, launch
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
