"""Function URLs against a real ``flare serve``: the config API through boto3, the URLs through
raw HTTP (``Host`` naming the URL, as curl or a browser sends it)."""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, launch, python_function

URL_PATTERN = re.compile(r"^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$")
TIME_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

ECHO = """
import base64, json, time
def handler(event, context):
    q = event.get("queryStringParameters") or {}
    mode = q.get("mode")
    if mode == "status":
        return {"statusCode": 201, "headers": {"X-Custom": "yes", "Content-Type": "text/plain"},
                "cookies": ["a=1; Path=/", "b=2"], "body": "created"}
    if mode == "binary":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
                "body": base64.b64encode(bytes(range(256))).decode()}
    if mode == "string":
        return "hello"
    if mode == "dict":
        return {"plain": True}
    if mode == "boom":
        raise ValueError("boom")
    if mode == "bad":
        return {"statusCode": "not a status"}
    if mode == "sleep":
        time.sleep(1)
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
"""

STREAMING = """
import time
def handler(event, context):
    q = event.get("queryStringParameters") or {}
    def pieces():
        if q.get("head"):
            yield {"statusCode": 202, "headers": {"Content-Type": "text/plain", "X-Streamed": "yes"},
                   "cookies": ["s=1"]}
        yield "first\\n"
        time.sleep(0.8)
        yield "last\\n"
    if q.get("buffered"):
        return {"statusCode": 200, "body": "as returned"}
    return pieces()
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def host_of(url: str) -> str:
    match = URL_PATTERN.match(url)
    assert match, url
    return url.removeprefix("http://").rstrip("/")


def request(
    flare: FlareServer,
    host: str,
    method: str = "GET",
    path: str = "/",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request to 127.0.0.1 with ``Host: host``; status, headers, body."""
    port = int(flare.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def url_for(lam: Any, name: str, source: str = ECHO, **config: Any) -> str:
    create_function(lam, name, python_function(source))
    config.setdefault("AuthType", "NONE")
    return str(lam.create_function_url_config(FunctionName=name, **config)["FunctionUrl"])


@pytest.fixture(scope="module")
def echo(lam: Any) -> str:
    return host_of(url_for(lam, unique("echo")))


# ---- the config API -------------------------------------------------------------------------


def test_configs_are_answered_with_aws_shapes(lam: Any, flare: FlareServer) -> None:
    name = unique("shapes")
    create_function(lam, name, python_function(ECHO))
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    match = URL_PATTERN.match(created["FunctionUrl"])
    assert match and match.group(2) == flare.url.rsplit(":", 1)[1]
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert TIME_PATTERN.match(created["CreationTime"])
    assert "InvokeMode" not in created and "Cors" not in created and "LastModifiedTime" not in created

    got = lam.get_function_url_config(FunctionName=name)
    assert got["InvokeMode"] == "BUFFERED"
    assert got["LastModifiedTime"] == got["CreationTime"] == created["CreationTime"]
    assert got["FunctionUrl"] == created["FunctionUrl"]

    cors = {"AllowOrigins": ["https://example.com"], "MaxAge": 60}
    updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM", Cors=cors)
    assert (updated["AuthType"], updated["Cors"], updated["FunctionUrl"]) == (
        "AWS_IAM",
        cors,
        got["FunctionUrl"],
    )
    assert "InvokeMode" not in updated and updated["LastModifiedTime"] >= got["LastModifiedTime"]
    updated = lam.update_function_url_config(FunctionName=name, InvokeMode="RESPONSE_STREAM")
    assert (updated["InvokeMode"], updated["AuthType"], updated["Cors"]) == (
        "RESPONSE_STREAM",
        "AWS_IAM",
        cors,
    )

    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [config["FunctionUrl"] for config in listed] == [got["FunctionUrl"]]
    assert listed[0]["InvokeMode"] == "RESPONSE_STREAM"

    assert lam.delete_function_url_config(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as gone:
        lam.get_function_url_config(FunctionName=name)
    assert gone.value.response["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "The resource you requested does not exist.",
    }
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
    recreated = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert recreated["FunctionUrl"] != got["FunctionUrl"]  # a new URL: ids are never reused


def test_a_second_url_for_the_same_target_conflicts(lam: Any) -> None:
    name = unique("conflict")
    create_function(lam, name, python_function(ECHO))
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    with pytest.raises(ClientError) as conflict:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert conflict.value.response["Error"]["Code"] == "ResourceConflictException"
    assert conflict.value.response["Error"]["Message"] == (
        "Failed to create function url config for [functionArn = "
        f"arn:aws:lambda:us-east-1:000000000000:function:{name}]. Error message:  "
        "FunctionUrlConfig exists for this Lambda function"
    )


def test_an_alias_has_a_url_of_its_own(lam: Any) -> None:
    name = unique("alias")
    create_function(lam, name, python_function(ECHO))
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    own = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    live = lam.create_function_url_config(FunctionName=f"{name}:live", Qualifier="live", AuthType="NONE")
    assert live["FunctionArn"].endswith(f":function:{name}:live")
    assert live["FunctionUrl"] != own["FunctionUrl"]
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [config["FunctionArn"] for config in listed] == [own["FunctionArn"], live["FunctionArn"]]
    page = lam.list_function_url_configs(FunctionName=name, MaxItems=1)
    rest = lam.list_function_url_configs(FunctionName=name, MaxItems=1, Marker=page["NextMarker"])
    assert [page["FunctionUrlConfigs"][0]["FunctionArn"], rest["FunctionUrlConfigs"][0]["FunctionArn"]] == [
        own["FunctionArn"],
        live["FunctionArn"],
    ]
    assert "NextMarker" not in rest
    lam.delete_function_url_config(FunctionName=name)
    assert (
        lam.get_function_url_config(FunctionName=name, Qualifier="live")["FunctionUrl"] == live["FunctionUrl"]
    )


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ("create_function_url_config", "Function does not exist"),
        ("update_function_url_config", "Function does not exist"),
        ("get_function_url_config", "The resource you requested does not exist."),
        ("delete_function_url_config", "The resource you requested does not exist."),
        ("list_function_url_configs", "Function does not exist"),
    ],
)
def test_missing_functions_and_aliases_are_not_found(lam: Any, operation: str, message: str) -> None:
    name = unique("exists")
    create_function(lam, name, python_function(ECHO))
    extra = {"AuthType": "NONE"} if operation == "create_function_url_config" else {}
    calls = [{"FunctionName": unique("missing")}]
    if operation != "list_function_url_configs":
        calls.append({"FunctionName": name, "Qualifier": "nosuchalias"})
    for arguments in calls:
        with pytest.raises(ClientError) as missing:
            getattr(lam, operation)(**arguments, **extra)
        assert missing.value.response["Error"] == {"Code": "ResourceNotFoundException", "Message": message}


def test_a_qualifier_that_contradicts_the_name_is_refused(lam: Any) -> None:
    name = unique("derived")
    create_function(lam, name, python_function(ECHO))
    with pytest.raises(ClientError) as refused:
        lam.get_function_url_config(FunctionName=f"{name}:one", Qualifier="two")
    assert refused.value.response["Error"] == {
        "Code": "InvalidParameterValueException",
        "Message": "The derived qualifier from the function name does not match the specified qualifier.",
    }


def test_urls_go_with_their_function_and_alias(lam: Any, flare: FlareServer) -> None:
    name = unique("gone")
    own = host_of(url_for(lam, name))
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    live = host_of(
        lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")["FunctionUrl"]
    )
    assert request(flare, live)[0] == 200
    lam.delete_alias(FunctionName=name, Name="live")
    assert request(flare, live)[:3:2] == (403, b'{"Message":null}')
    with pytest.raises(ClientError):
        lam.get_function_url_config(FunctionName=name, Qualifier="live")
    lam.delete_function(FunctionName=name)
    create_function(lam, name, python_function(ECHO))
    with pytest.raises(ClientError):
        lam.get_function_url_config(FunctionName=name)
    assert request(flare, own)[0] == 403


def test_urls_survive_a_restart(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        lam = server.client()
        host = host_of(url_for(lam, "kept", Cors={"AllowOrigins": ["*"]}, InvokeMode="BUFFERED"))
        before = lam.get_function_url_config(FunctionName="kept")
        server.restart()
        after = server.client().get_function_url_config(FunctionName="kept")
        del before["ResponseMetadata"], after["ResponseMetadata"]
        assert after == before
        assert request(server, host, path="/?mode=string")[2] == b"hello"
    finally:
        server.stop()


# ---- requests to the URL --------------------------------------------------------------------


def test_the_function_answers_with_status_headers_cookies_and_body(flare: FlareServer, echo: str) -> None:
    status, headers, body = request(flare, echo, path="/?mode=status")
    assert (status, body) == (201, b"created")
    assert headers["X-Custom"] == "yes"
    assert headers["Content-Type"] == "text/plain"
    assert headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["x-amzn-RequestId"])


def test_the_request_arrives_as_the_format_2_event(flare: FlareServer, echo: str) -> None:
    url_id = echo.split(".", 1)[0]
    status, _, body = request(
        flare,
        echo,
        "POST",
        "/some/path?mode=echo&x=1&x=2",
        b'{"sent": true}',
        {"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2", "X-Multi": "a", "User-Agent": "tests"},
    )
    assert status == 200
    event = json.loads(body)
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "$default", "/some/path")
    assert event["rawQueryString"] == "mode=echo&x=1&x=2"
    assert event["queryStringParameters"] == {"mode": "echo", "x": "1,2"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-multi"] == "a" and "cookie" not in event["headers"]
    assert event["headers"]["host"] == echo
    assert (event["body"], event["isBase64Encoded"]) == ('{"sent": true}', False)
    context = event["requestContext"]
    assert (context["apiId"], context["domainPrefix"], context["domainName"]) == (url_id, url_id, echo)
    assert context["http"] == {
        "method": "POST",
        "path": "/some/path",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests",
    }
    assert (context["accountId"], context["stage"]) == ("anonymous", "$default")
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60


def test_binary_bodies_travel_as_base64_both_ways(flare: FlareServer, echo: str) -> None:
    sent = bytes(range(256))
    headers = {"Content-Type": "application/octet-stream"}
    event = json.loads(request(flare, echo, "POST", "/?mode=echo", sent, headers)[2])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == sent
    status, answer_headers, body = request(flare, echo, path="/?mode=binary")
    assert (status, answer_headers["Content-Type"], body) == (200, "image/png", bytes(range(256)))


def test_answers_without_a_status_code_are_a_json_200(flare: FlareServer, echo: str) -> None:
    status, headers, body = request(flare, echo, path="/?mode=string")
    assert (status, headers["Content-Type"], body) == (200, "application/json", b"hello")
    assert json.loads(request(flare, echo, path="/?mode=dict")[2]) == {"plain": True}


@pytest.mark.parametrize("mode", ["boom", "bad"])
def test_a_function_error_or_a_bad_answer_is_a_502(flare: FlareServer, echo: str, mode: str) -> None:
    status, _, body = request(flare, echo, path=f"/?mode={mode}")
    assert (status, body) == (502, b"Internal Server Error")


def test_a_url_flare_does_not_have_is_forbidden(flare: FlareServer) -> None:
    status, headers, body = request(flare, "nosuchurlid.lambda-url.us-east-1.localhost")
    assert (status, body) == (403, b'{"Message":null}')
    assert headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert headers["Content-Type"] == "application/json"


def test_an_invoke_path_on_a_url_host_is_the_urls_not_the_invoke_api(flare: FlareServer, echo: str) -> None:
    path = "/2015-03-31/functions/anything/invocations?mode=echo"
    status, _, body = request(flare, echo, "POST", path, b"{}", {"Content-Type": "application/json"})
    assert status == 200
    assert json.loads(body)["rawPath"] == "/2015-03-31/functions/anything/invocations"


def test_cors_preflights_are_answered_without_the_function(lam: Any, flare: FlareServer) -> None:
    cors = {
        "AllowOrigins": ["https://app.example.com"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom"],
        "ExposeHeaders": ["x-custom"],
        "MaxAge": 300,
        "AllowCredentials": True,
    }
    host = host_of(url_for(lam, unique("cors"), Cors=cors))
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    status, headers, body = request(flare, host, "OPTIONS", "/?mode=echo", headers=preflight)
    assert (status, body) == (200, b"")  # the function would have answered with its event
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert headers["Access-Control-Allow-Headers"] == "x-custom"
    assert headers["Access-Control-Max-Age"] == "300"
    assert headers["Access-Control-Allow-Credentials"] == "true"

    status, headers, _ = request(
        flare, host, path="/?mode=status", headers={"Origin": "https://app.example.com"}
    )
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Expose-Headers"] == "x-custom"
    _, headers, _ = request(flare, host, path="/?mode=status", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in headers
    _, headers, body = request(
        flare, host, "OPTIONS", "/?mode=echo", headers={"Origin": "https://evil.example.com"}
    )
    assert (
        json.loads(body)["requestContext"]["http"]["method"] == "OPTIONS"
    )  # not a preflight: the function's


def test_an_aws_iam_url_refuses_unsigned_requests_and_takes_signed_ones(lam: Any, flare: FlareServer) -> None:
    host = host_of(url_for(lam, unique("iam"), AuthType="AWS_IAM"))
    status, headers, body = request(flare, host, path="/?mode=echo")
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})
    assert headers["x-amzn-ErrorType"] == "AccessDeniedException"

    signed = AWSRequest("GET", f"http://{host}/?mode=echo", headers={"Host": host})
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "lambda", "us-east-1").add_auth(signed)
    status, _, body = request(flare, host, path="/?mode=echo", headers=dict(signed.headers))
    assert status == 200
    context = json.loads(body)["requestContext"]
    assert context["authorizer"]["iam"]["accessKey"] == "AKIDEXAMPLE"
    assert context["accountId"] == "000000000000"


def test_a_throttled_url_answers_429(lam: Any, flare: FlareServer) -> None:
    name = unique("throttled")
    host = host_of(url_for(lam, name))
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    status, headers, body = request(flare, host)
    assert status == 429
    assert headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert json.loads(body) == {"Message": "Rate Exceeded."}


def test_a_request_over_six_megabytes_is_too_large(flare: FlareServer, echo: str) -> None:
    status, headers, _ = request(flare, echo, "POST", "/", b"x" * (6 * 1024 * 1024 + 1))
    assert status == 413
    assert headers["x-amzn-ErrorType"] == "RequestTooLargeException"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_reaches_the_url_by_its_localhost_name_without_dns_setup(lam: Any) -> None:
    url = url_for(lam, unique("curl"))
    done = subprocess.run(
        ["curl", "-sS", "-i", f"{url}?mode=status"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("HTTP/1.1 201")
    assert "Set-Cookie: a=1; Path=/" in done.stdout
    assert done.stdout.endswith("created")


# ---- RESPONSE_STREAM ------------------------------------------------------------------------


def read_streamed(
    flare: FlareServer, host: str, path: str
) -> tuple[http.client.HTTPResponse, list[tuple[float, bytes]]]:
    """The response and each piece of its body with the seconds since the request was sent."""
    port = int(flare.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    began = time.monotonic()
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    pieces = []
    while piece := response.read1(65536):
        pieces.append((time.monotonic() - began, piece))
    connection.close()
    return response, pieces


@pytest.fixture(scope="module")
def streamed_url(lam: Any) -> str:
    name = unique("streamed")
    create_function(lam, name, python_function(STREAMING), Timeout=30)  # no timeout on a busy host
    config = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    return host_of(config["FunctionUrl"])


def test_a_streaming_url_sends_the_first_chunk_before_the_function_returns(
    flare: FlareServer, streamed_url: str
) -> None:
    response, pieces = read_streamed(flare, streamed_url, "/")
    assert response.status == 200, pieces
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert b"".join(piece for _, piece in pieces) == b"first\nlast\n"
    assert pieces[0][1] == b"first\n"
    assert pieces[-1][0] - pieces[0][0] > 0.6, pieces  # the handler sleeps 0.8 s in between


def test_a_streamed_http_head_sets_status_headers_and_cookies(flare: FlareServer, streamed_url: str) -> None:
    response, pieces = read_streamed(flare, streamed_url, "/?head=1")
    assert response.status == 202, pieces
    assert response.headers["X-Streamed"] == "yes"
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers.get_all("Set-Cookie") == ["s=1"]
    assert b"".join(piece for _, piece in pieces) == b"first\nlast\n"


def test_a_buffered_answer_on_a_streaming_url_is_passed_through_as_returned(
    flare: FlareServer, streamed_url: str
) -> None:
    status, _, body = request(flare, streamed_url, path="/?buffered=1")
    assert status == 200
    assert json.loads(body) == {"statusCode": 200, "body": "as returned"}


PRODUCER = """
import time
def handler(event, context):
    def pieces():
        for _ in range(48):
            yield str(time.monotonic()).encode().ljust(1024 * 1024, b".")
    return pieces()
"""


def test_a_slow_client_holds_the_function_back_instead_of_filling_memory(
    lam: Any, flare: FlareServer
) -> None:
    name = unique("producer")
    create_function(lam, name, python_function(PRODUCER), Timeout=15)
    config = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    host = host_of(config["FunctionUrl"])
    port = int(flare.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/", headers={"Host": host})
    response = connection.getresponse()
    first = response.read(1024 * 1024)
    time.sleep(1.5)  # a client that stops reading for a while
    rest = response.read()
    connection.close()
    body = first + rest
    assert len(body) == 48 * 1024 * 1024
    yielded = [float(body[start : start + 40].rstrip(b".")) for start in range(0, len(body), 1024 * 1024)]
    # 48 MB is far more than the buffers between the function and the client hold: the function
    # could only yield its last pieces after the client read again.
    assert yielded[-1] - yielded[0] > 1.0, yielded
