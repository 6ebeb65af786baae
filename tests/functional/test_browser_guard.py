"""Through a real server: what a web page can make a developer's browser send never reaches a
function or the control plane; a page the operator allowed gets CORS answers."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import FlareServer, create_function, launch, python_function
from tests.signing import signed_headers

ALLOWED = "http://app.local:3000"
COUNTER = """
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    return COUNT
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    flare = launch(tmp_path_factory.mktemp("guard"), "--cors-origin", ALLOWED)
    yield flare
    flare.stop()


def send(
    server: FlareServer, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    port = int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = signed_headers(
            method, f"http://127.0.0.1:{port}{path}", body, {"Host": f"127.0.0.1:{port}", **headers}
        )
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


INVOKE = "/2015-03-31/functions/counter/invocations"


def count(server: FlareServer) -> Any:
    return json.loads(server.client().invoke(FunctionName="counter", Payload=b"{}")["Payload"].read())


def test_a_pages_requests_never_reach_the_function(server: FlareServer) -> None:
    create_function(server.client(), "counter", python_function(COUNTER))
    assert count(server) == 1
    attacks = [
        ({"Origin": "http://evil.example", "Content-Type": "text/plain"}, 403, "AccessDeniedException"),
        ({"Origin": "null"}, 403, "AccessDeniedException"),
        ({"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403, "AccessDeniedException"),
        ({"Content-Type": "text/plain"}, 415, "UnsupportedMediaTypeException"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "UnsupportedMediaTypeException"),
        ({"Host": "rebound.evil.example:9000"}, 403, "AccessDeniedException"),
    ]
    for headers, status, error in attacks:
        got, answer, body = send(server, "POST", INVOKE, headers, b'{"a":"="}')
        assert (got, answer.get("x-amzn-errortype")) == (status, error), (headers, body)
    got, _, _ = send(server, "GET", "/2015-03-31/functions", {"Sec-Fetch-Site": "cross-site"})
    assert got == 403
    assert count(server) == 2  # none of them ran it


def test_a_page_the_operator_allowed_gets_cors_answers(server: FlareServer) -> None:
    preflight = {
        "Origin": ALLOWED,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-amz-date,content-type",
    }
    status, headers, _ = send(server, "OPTIONS", INVOKE, preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == ALLOWED
    assert headers["access-control-allow-headers"] == "authorization,x-amz-date,content-type"
    status, headers, _ = send(server, "GET", "/2015-03-31/functions", {"Origin": ALLOWED})
    assert status == 200 and headers["access-control-allow-origin"] == ALLOWED
    assert "x-amzn-RequestId" in headers["access-control-expose-headers"]
    status, headers, _ = send(server, "OPTIONS", INVOKE, {**preflight, "Origin": "http://evil.example"})
    assert status == 403 and "access-control-allow-origin" not in headers
