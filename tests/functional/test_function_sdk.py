"""Every Python runtime's functions get the SDK Lambda provides (boto3), built for their own
Python: its import, signing and HTTP all work, and its calls reach Flare."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from flare.sandbox.launcher import find_interpreter
from tests.conftest import create_function, python_function

SOURCE = """
import sys, boto3

def handler(event, context):
    client = boto3.client("lambda")
    try:
        client.list_functions()
        answer = "allowed"
    except client.exceptions.ClientError as error:
        answer = error.response["Error"]["Code"]
    return {"python": "%d.%d" % sys.version_info[:2], "answer": answer}
"""


@pytest.mark.parametrize("minor", ["3.9", "3.10", "3.11", "3.12", "3.13"])
def test_a_functions_sdk_imports_and_reaches_flare_on_every_python(lam: Any, minor: str) -> None:
    if find_interpreter(minor) is None:
        pytest.skip(f"python{minor} is not installed here")
    name = f"sdk-{minor.replace('.', '-')}-{uuid.uuid4().hex[:6]}"
    create_function(lam, name, python_function(SOURCE), runtime=f"python{minor}", MemorySize=512, Timeout=30)
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    # the default role may not list functions: Flare's refusal proves the call went through
    assert result == {"python": minor, "answer": "AccessDeniedException"}
