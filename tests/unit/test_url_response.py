"""A function's answer to a function URL request as the HTTP response Lambda sends."""

from __future__ import annotations

import base64
import json

import pytest

from flare.api.url_response import BadFunctionResponse, HttpAnswer, http_answer, split_prelude

JSON = [("Content-Type", "application/json")]


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        # the shortcuts: anything but a response object is a 200 application/json body
        ({"hello": "world"}, HttpAnswer(200, JSON, b'{"hello": "world"}')),
        (["hello", 3, True], HttpAnswer(200, JSON, b'["hello", 3, true]')),
        ("hello", HttpAnswer(200, JSON, b"hello")),
        (3, HttpAnswer(200, JSON, b"3")),
        (3.1, HttpAnswer(200, JSON, b"3.1")),
        (True, HttpAnswer(200, JSON, b"true")),
        ({"body": "no statusCode"}, HttpAnswer(200, JSON, b'{"body": "no statusCode"}')),
        # response objects
        ({"statusCode": 200, "body": "body123"}, HttpAnswer(200, JSON, b"body123")),
        ({"statusCode": "418", "body": "i'm a teapot"}, HttpAnswer(418, JSON, b"i'm a teapot")),
        ({"statusCode": 204}, HttpAnswer(204, JSON, b"")),
        (
            {
                "statusCode": 201,
                "headers": {"content-type": "text/html", "X-Count": 5, "X-On": True},
                "body": "<p>",
            },
            HttpAnswer(201, [("content-type", "text/html"), ("X-Count", "5"), ("X-On", "true")], b"<p>"),
        ),
        (
            {"statusCode": 200, "cookies": ["a=1; Max-Age=60", "b=2"], "body": "c"},
            HttpAnswer(200, [*JSON, ("Set-Cookie", "a=1; Max-Age=60"), ("Set-Cookie", "b=2")], b"c"),
        ),
        (
            {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\x00\x01\xff").decode()},
            HttpAnswer(200, JSON, b"\x00\x01\xff"),
        ),
        ({"statusCode": 200, "body": {"not": "a string"}}, HttpAnswer(200, JSON, b'{"not": "a string"}')),
        (
            {"statusCode": 200, "headers": {"Content-Length": "999", "Transfer-Encoding": "x"}, "body": "ok"},
            HttpAnswer(200, JSON, b"ok"),
        ),
    ],
)
def test_what_a_function_returns_becomes_this_response(returned: object, expected: HttpAnswer) -> None:
    assert http_answer(json.dumps(returned).encode()) == expected


def test_a_payload_that_is_not_json_is_the_body_as_it_is() -> None:
    assert http_answer(b"not json") == HttpAnswer(200, JSON, b"not json")


@pytest.mark.parametrize(
    "returned",
    [
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": 600},
        {"statusCode": True},
        {"statusCode": None},
        {"statusCode": 200, "isBase64Encoded": True, "body": "not base64!"},
    ],
)
def test_answers_that_make_no_response_are_refused(returned: object) -> None:
    with pytest.raises(BadFunctionResponse):
        http_answer(json.dumps(returned).encode())


def test_a_stream_head_ends_at_eight_nul_bytes() -> None:
    head = json.dumps({"statusCode": 201, "headers": {"Content-Type": "text/plain"}, "cookies": ["s=1"]})
    data = head.encode() + bytes(8) + b"body \x00 bytes"
    assert split_prelude(data[:10]) is None
    assert split_prelude(data) == (
        HttpAnswer(201, [("Content-Type", "text/plain"), ("Set-Cookie", "s=1")]),
        b"body \x00 bytes",
    )


@pytest.mark.parametrize("data", [b"not json" + bytes(8), b"[1]" + bytes(8), b"x" * (65 * 1024)])
def test_a_stream_head_that_is_not_one_is_refused(data: bytes) -> None:
    with pytest.raises(BadFunctionResponse):
        split_prelude(data)
