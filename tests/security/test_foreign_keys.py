"""A handler that signs its calls with keys of its own choosing (the dummy ``test`` key of
LocalStack-style code, or a 12-digit key naming another account) still acts as its function:
the engine knows the connection comes from inside an environment by the uid the kernel names
for it, not by what the request says. In ``--auth open`` these keys were the default account's
root (or the other account's), able to list and reconfigure every function. Needs root (each
environment its own uid); skips otherwise."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest

from tests.conftest import create_function, python_function

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="environments have uids of their own as root only")

HANDLER = """
import boto3

def handler(event, context):
    client = boto3.client(
        "lambda", aws_access_key_id=event["key"], aws_secret_access_key="test", region_name="us-east-1"
    )
    results = {}
    for name, call in [
        ("list", lambda: client.list_functions()),
        ("read", lambda: client.get_function_configuration(FunctionName=event["victim"])),
        ("change", lambda: client.update_function_configuration(FunctionName=event["victim"], Timeout=9)),
    ]:
        try:
            call()
            results[name] = "allowed"
        except client.exceptions.ClientError as error:
            results[name] = [error.response["Error"]["Code"], error.response["Error"]["Message"]]
    return results
"""


def test_a_handler_signing_with_another_key_acts_as_its_function(lam: Any) -> None:
    victim, attacker = f"victim-{uuid.uuid4().hex[:8]}", f"attacker-{uuid.uuid4().hex[:8]}"
    create_function(
        lam,
        victim,
        python_function("def handler(e, c):\n    return 1\n"),
        Environment={"Variables": {"DB_PASSWORD": "hunter2"}},
    )
    create_function(lam, attacker, python_function(HANDLER), MemorySize=1024, Timeout=30)
    role = lam.get_function_configuration(FunctionName=attacker)["Role"].rsplit("/", 1)[1]
    for key in ("test", "AKIAIOSFODNN7EXAMPLE", "111111111111"):
        event = {"key": key, "victim": victim}
        answer = lam.invoke(FunctionName=attacker, Payload=json.dumps(event).encode())
        results = json.loads(answer["Payload"].read())
        user = f"User: arn:aws:sts::000000000000:assumed-role/{role}/{attacker} is not authorized to perform"
        assert results["list"] == [
            "AccessDeniedException",
            f"{user}: lambda:ListFunctions on resource: * because no identity-based policy allows the "
            "lambda:ListFunctions action",
        ], key
        for name, action in (("read", "GetFunctionConfiguration"), ("change", "UpdateFunctionConfiguration")):
            code, message = results[name]
            assert code == "AccessDeniedException", (key, name, results)
            assert message.startswith(f"{user}: lambda:{action} on resource: "), (key, name, message)
    assert lam.get_function_configuration(FunctionName=victim)["Timeout"] == 3
