"""Every request is authenticated as AWS authenticates it: unsigned ones refused in both modes;
in ``--auth sigv4`` signatures checked against the data dir's keys (the admin key written to a
``flare`` profile that boto3, the AWS CLI and the ``flare`` CLI use); each execution
environment signing with credentials of its own, which end with it."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import FLARE, ROLE, FlareServer, create_function, launch, python_function
from tests.roles import ALLOW_ALL, attach_policy

AWS_CLI = Path(sys.prefix) / "bin" / "aws"
SELF_CREDENTIALS = """
import os, boto3
def handler(event, context):
    if event.get("call"):
        return boto3.client("lambda").invoke(FunctionName=event["call"], Payload=b"{}")["StatusCode"]
    return {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
"""


def unsigned(server: FlareServer, method: str, path: str, body: bytes = b"") -> tuple[int, str | None, Any]:
    """A request as ``curl`` sends it: no signature."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body or None)
        reply = connection.getresponse()
        return reply.status, reply.getheader("x-amzn-ErrorType"), json.loads(reply.read() or b"null")
    finally:
        connection.close()


def error_of(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def client(
    server: FlareServer, key: str, secret: str, service: str = "lambda", token: str | None = None
) -> Any:
    make: Callable[..., Any] = boto3.client  # the service is a name, not a literal
    return make(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}),
    )


# ---- open mode (the default) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/2015-03-31/functions"),
        ("GET", "/2015-03-31/functions/"),
        ("POST", "/2015-03-31/functions/f/invocations"),  # the fast path's route
        ("GET", "/2016-08-19/account-settings/"),
        ("GET", "/flare/v1/event-sources"),
        ("POST", "/flare/v1/cluster/logs"),  # only a cluster's nodes take it unsigned (with its token)
    ],
)
def test_an_unsigned_request_is_refused_in_open_mode(flare: FlareServer, method: str, path: str) -> None:
    status, error_type, body = unsigned(flare, method, path, b"{}" if method == "POST" else b"")
    assert (status, error_type) == (403, "MissingAuthenticationTokenException")
    assert body["message"] == "Missing Authentication Token"


def test_open_mode_takes_any_key_and_unsigned_scrapers_still_read_metrics(flare: FlareServer) -> None:
    assert "Functions" in client(flare, "anything", "at all").list_functions()
    host, port = flare.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", "/metrics")
        reply = connection.getresponse()
        assert reply.status == 200 and b"flare_" in reply.read()
    finally:
        connection.close()


def test_an_environment_gets_credentials_of_its_own_that_end_with_it(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "self-credentials", python_function(SELF_CREDENTIALS))
    attach_policy(flare.url, ROLE, ALLOW_ALL)  # what its credentials may do is IAM's business: test_roles.py
    first = json.loads(lam.invoke(FunctionName="self-credentials", Payload=b"{}")["Payload"].read())
    assert first["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(first["AWS_ACCESS_KEY_ID"]) == 20
    assert len(first["AWS_SECRET_ACCESS_KEY"]) == 40 and first["AWS_SESSION_TOKEN"]
    own = client(
        flare, first["AWS_ACCESS_KEY_ID"], first["AWS_SECRET_ACCESS_KEY"], token=first["AWS_SESSION_TOKEN"]
    )
    assert (
        own.get_function(FunctionName="self-credentials")["Configuration"]["FunctionName"]
        == "self-credentials"
    )
    guessed = client(flare, first["AWS_ACCESS_KEY_ID"], "guessed", token=first["AWS_SESSION_TOKEN"])
    assert error_of(guessed.list_functions)[:2] == (403, "InvalidSignatureException")
    lam.update_function_configuration(FunctionName="self-credentials", Description="a new environment")
    lam.get_waiter("function_updated_v2").wait(FunctionName="self-credentials")
    second = json.loads(lam.invoke(FunctionName="self-credentials", Payload=b"{}")["Payload"].read())
    assert second["AWS_ACCESS_KEY_ID"] != first["AWS_ACCESS_KEY_ID"]
    deadline = time.monotonic() + 10  # the old environment is retired once its invocation is over
    while True:
        try:
            own.list_functions()
        except ClientError as error:
            assert (
                error.response["Error"]["Code"],
                error.response["ResponseMetadata"]["HTTPStatusCode"],
            ) == (
                "ExpiredTokenException",
                403,
            )
            break
        assert time.monotonic() < deadline, "the ended environment's credentials still work"
        time.sleep(0.1)


# ---- sigv4 mode ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlareServer, Path]]:
    """A ``--auth sigv4`` server on a new data dir, its admin key written to a credentials file
    of its own."""
    home = tmp_path_factory.mktemp("home")
    credentials = home / "credentials"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
        server = launch(tmp_path_factory.mktemp("strict"), "--auth", "sigv4")
    yield server, credentials
    server.stop()


def profile_env(credentials: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_DEFAULT_REGION": "us-east-1"}


def test_the_first_sigv4_start_writes_the_admin_key_to_a_flare_profile(
    strict: tuple[FlareServer, Path],
) -> None:
    server, credentials = strict
    text = credentials.read_text()
    assert text.startswith("[flare]\naws_access_key_id = AKIA") and "aws_secret_access_key = " in text
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
        session = boto3.Session(profile_name="flare", region_name="us-east-1")
        once = Config(retries={"total_max_attempts": 1})
        admin = session.client("lambda", endpoint_url=server.url, config=once)
        assert admin.list_functions()["Functions"] == []


def test_sigv4_refuses_unknown_keys_wrong_secrets_and_unsigned_requests(
    strict: tuple[FlareServer, Path],
) -> None:
    server, credentials = strict
    status, error_type, _ = unsigned(server, "GET", "/2015-03-31/functions")
    assert (status, error_type) == (403, "MissingAuthenticationTokenException")
    assert error_of(client(server, "test", "test").list_functions) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    key = [line.split(" = ")[1] for line in credentials.read_text().splitlines() if " = " in line]
    assert error_of(client(server, key[0], key[1] + "x").list_functions)[:2] == (
        403,
        "InvalidSignatureException",
    )
    with pytest.raises(ClientError) as caught:
        client(server, "test", "test", service="sqs").list_queues()
    assert caught.value.response["Error"]["Code"] in ("InvalidClientTokenId", "UnrecognizedClientException")
    kinesis = client(server, key[0], key[1] + "x", service="kinesis")
    assert error_of(kinesis.list_streams)[:2] == (400, "InvalidSignatureException")
    assert client(server, key[0], key[1], service="sqs").list_queues() is not None


def test_flare_keys_made_while_serving_work_at_once_and_deleted_ones_stop(
    strict: tuple[FlareServer, Path],
) -> None:
    server, _ = strict
    made = subprocess.run(
        [str(FLARE), "keys", "create", "--account", "111122223333", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key, secret = (line.split(" = ")[1] for line in made.splitlines())
    other = client(server, key, secret)
    assert other.get_account_settings()["AccountLimit"]
    assert other.list_functions()["Functions"] == []
    subprocess.run([str(FLARE), "keys", "delete", key, "--data-dir", str(server.data_dir)], check=True)
    time.sleep(1.2)  # a running server re-reads a key at most a second after it changed
    assert error_of(other.list_functions)[1] == "UnrecognizedClientException"


def test_the_aws_cli_and_the_flare_cli_sign_with_the_flare_profile(strict: tuple[FlareServer, Path]) -> None:
    server, credentials = strict
    env = profile_env(credentials)
    listed = subprocess.run(
        [str(AWS_CLI), "--profile", "flare", "--endpoint-url", server.url, "lambda", "list-functions"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["Functions"] == []
    sources = subprocess.run(
        [str(FLARE), "sources", "--endpoint-url", server.url], capture_output=True, text=True, env=env
    )
    assert sources.returncode == 0, sources.stdout + sources.stderr
    refused = subprocess.run(
        [str(FLARE), "sources", "--endpoint-url", server.url],
        capture_output=True,
        text=True,
        env={**env, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
    )
    assert refused.returncode == 1 and "UnrecognizedClientException" in refused.stderr


def test_a_function_calls_flare_with_its_own_credentials_under_sigv4(
    strict: tuple[FlareServer, Path],
) -> None:
    server, credentials = strict
    key = [line.split(" = ")[1] for line in credentials.read_text().splitlines() if " = " in line]
    admin = client(server, key[0], key[1])
    create_function(admin, "callee", python_function("def handler(e, c):\n    return 1\n"))
    create_function(admin, "caller", python_function(SELF_CREDENTIALS))
    reply = admin.invoke(FunctionName="caller", Payload=json.dumps({"call": "callee"}).encode())
    assert "FunctionError" not in reply
    assert json.loads(reply["Payload"].read()) == 200
