"""A request to a function URL as the payload format 2.0 event Lambda builds from it."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest

from flare.api.url_event import Caller, Invoked, UrlRequest, event_body, is_text, request_event, request_time

URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
HOST = f"{URL_ID}.lambda-url.us-east-1.localhost:9000"
INVOKED = Invoked(URL_ID, "123456789012", "req-1", "Root=1-5f84c7a9-abc;Parent=def;Sampled=0", 1583348638.390)


def request(**changes: Any) -> UrlRequest:
    fields: dict[str, Any] = {
        "method": "POST",
        "target": "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
        "headers": [("Host", HOST), ("User-Agent", "agent"), ("Header2", "value1"), ("header2", "value2")],
        "body": b"Hello from client!",
        "source_ip": "123.123.123.123",
        "port": 9000,
    }
    fields.update(changes)
    return UrlRequest(**fields)


def test_the_event_has_the_documented_shape() -> None:
    event = request_event(request(headers=[*request().headers, ("Content-Type", "text/plain")]), INVOKED)
    assert event == {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "headers": {
            "host": HOST,
            "user-agent": "agent",
            "header2": "value1,value2",
            "content-type": "text/plain",
            "x-forwarded-for": "123.123.123.123",
            "x-forwarded-port": "9000",
            "x-forwarded-proto": "http",
            "x-amzn-trace-id": "Root=1-5f84c7a9-abc",
        },
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": HOST,
            "domainPrefix": URL_ID,
            "http": {
                "method": "POST",
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "sourceIp": "123.123.123.123",
                "userAgent": "agent",
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "body": "Hello from client!",
        "isBase64Encoded": False,
    }


def test_cookies_leave_the_headers_for_their_own_list() -> None:
    event = request_event(request(headers=[("Cookie", "a=1; b=2"), ("cookie", "c=3")]), INVOKED)
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]
    assert "cookies" not in request_event(request(headers=[]), INVOKED)


def test_no_query_no_body_means_those_members_are_absent() -> None:
    event = request_event(request(target="/", body=b"", method="GET"), INVOKED)
    assert event["rawQueryString"] == ""
    assert "queryStringParameters" not in event and "body" not in event
    assert event["isBase64Encoded"] is False


def test_the_path_stays_as_sent_and_the_query_parameters_are_decoded() -> None:
    event = request_event(request(target="/pa2%Fth/1?q=a%20b&multi=foo&multi=%2Fbar&flag"), INVOKED)
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/pa2%Fth/1"
    assert event["queryStringParameters"] == {"q": "a b", "multi": "foo,/bar", "flag": ""}


def test_a_signed_caller_is_the_authorizer_and_the_account_is_the_owner() -> None:
    signed = dataclasses.replace(INVOKED, caller=Caller("AKIDEXAMPLE", "123456789012"))
    event = request_event(request(), signed)
    context = event["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["authorizer"]["iam"]["accessKey"] == "AKIDEXAMPLE"
    assert context["authorizer"]["iam"]["userArn"] == "arn:aws:iam::123456789012:root"
    assert "authorizer" not in request_event(request(), INVOKED)["requestContext"]


def test_forwarded_for_keeps_what_the_client_sent() -> None:
    event = request_event(request(headers=[("X-Forwarded-For", "10.0.0.1")]), INVOKED)
    assert event["headers"]["x-forwarded-for"] == "10.0.0.1, 123.123.123.123"


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("text/plain", True),
        ("text/html; charset=utf-8", True),
        ("application/json", True),
        ("application/vnd.api+json", True),
        ("application/xml", True),
        ("application/javascript", True),
        ("application/octet-stream", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("image/png", False),
        ("", False),
    ],
)
def test_which_content_types_are_text(content_type: str, text: bool) -> None:
    assert is_text(content_type) is text


def test_binary_bodies_are_base64_and_text_bodies_text() -> None:
    assert event_body(b"\x00\xff\x10", "application/octet-stream") == (
        base64.b64encode(b"\x00\xff\x10").decode(),
        True,
    )
    assert event_body(b'{"a": 1}', "application/json") == ('{"a": 1}', False)
    assert event_body("é".encode(), "text/plain") == ("é", False)
    assert event_body(b"\xff\xfe", "text/plain") == ("//4=", True)  # not UTF-8: base64 after all
    assert event_body(b"", "text/plain") == (None, False)


def test_the_time_is_written_with_english_months() -> None:
    assert request_time(1631055022.677) == "07/Sep/2021:22:50:22 +0000"
