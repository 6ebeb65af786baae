"""What a web page can make a browser send is refused; what the AWS SDKs send passes."""

from __future__ import annotations

import pytest

from flare.api.browser_guard import BrowserGuard
from flare.api.front_door import NotFast, parse_request
from flare.errors import AccessDenied, UnsupportedMediaType

GUARD = BrowserGuard.of(["http://app.local:3000"], ["flare.internal"], "127.0.0.1")
PLAIN = {"host": "127.0.0.1:9000"}


@pytest.mark.parametrize(
    ("headers", "has_body", "refused"),
    [
        (PLAIN, True, None),
        ({**PLAIN, "content-type": "application/json"}, True, None),
        ({**PLAIN, "content-type": "application/x-amz-json-1.1; charset=utf-8"}, True, None),
        ({**PLAIN, "content-type": "application/octet-stream"}, True, None),
        ({**PLAIN, "content-type": "text/plain"}, True, UnsupportedMediaType),
        ({**PLAIN, "content-type": "application/x-www-form-urlencoded"}, True, UnsupportedMediaType),
        ({**PLAIN, "content-type": "multipart/form-data; boundary=x"}, True, UnsupportedMediaType),
        ({**PLAIN, "content-type": "text/plain"}, False, None),  # no body, nothing to read
        ({**PLAIN, "origin": "http://evil.example"}, False, AccessDenied),
        ({**PLAIN, "origin": "null"}, False, AccessDenied),
        ({**PLAIN, "origin": "http://app.local:3000"}, True, None),
        ({**PLAIN, "origin": "HTTP://APP.LOCAL:3000"}, True, None),
        ({**PLAIN, "sec-fetch-site": "cross-site"}, False, AccessDenied),
        ({**PLAIN, "sec-fetch-site": "same-site"}, False, AccessDenied),
        ({**PLAIN, "sec-fetch-site": "none"}, False, None),
        ({"host": "evil.example:9000"}, False, AccessDenied),
        ({"host": "localhost:9000"}, False, None),
        ({"host": "LOCALHOST"}, False, None),
        ({"host": "[::1]:9000"}, False, None),
        ({"host": "10.1.2.3"}, False, None),
        ({"host": "flare.internal:9000"}, False, None),
        ({}, False, None),  # no Host: not a browser
    ],
)
def test_what_is_refused(headers: dict[str, str], has_body: bool, refused: type[Exception] | None) -> None:
    found = GUARD.refusal(headers, has_body)
    assert (type(found) if found is not None else None) is refused
    if found is not None:
        assert found.status == (415 if refused is UnsupportedMediaType else 403)


def test_the_name_the_server_listens_on_is_allowed() -> None:
    guard = BrowserGuard.of([], [], "devbox.lan")
    assert guard.refusal({"host": "devbox.lan:9000"}, False) is None
    assert guard.refusal({"host": "other.lan:9000"}, False) is not None


def test_every_origin_with_a_star() -> None:
    guard = BrowserGuard.of(["*"], [], "127.0.0.1")
    assert guard.refusal({**PLAIN, "origin": "https://anything.example"}, True) is None
    assert guard.response_headers("https://anything.example")["Access-Control-Allow-Origin"] == "*"


def test_an_allowed_origins_preflight_gets_the_headers_it_asked_for() -> None:
    headers = GUARD.preflight_headers("http://app.local:3000", "authorization,x-amz-date,content-type")
    assert headers["Access-Control-Allow-Origin"] == "http://app.local:3000"
    assert headers["Access-Control-Allow-Headers"] == "authorization,x-amz-date,content-type"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert GUARD.preflight_headers("http://evil.example", "authorization") == {}
    exposed = GUARD.response_headers("http://app.local:3000")["Access-Control-Expose-Headers"]
    assert "X-Amz-Function-Error" in exposed


def invoke_bytes(*headers: str, body: bytes = b"{}") -> bytearray:
    head = "".join(f"{header}\r\n" for header in headers)
    return bytearray(
        f"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


@pytest.mark.parametrize(
    "headers",
    [
        ("Origin: http://evil.example",),
        ("Origin: http://app.local:3000",),  # allowed, but its CORS answer is aiohttp's
        ("Sec-Fetch-Site: cross-site",),
        ("Content-Type: text/plain",),
    ],
)
def test_the_fast_path_leaves_whatever_is_not_plain_to_aiohttp(headers: tuple[str, ...]) -> None:
    buffer = invoke_bytes(*headers)
    before = bytes(buffer)
    with pytest.raises(NotFast):
        parse_request(buffer, GUARD)
    assert bytes(buffer) == before  # nothing consumed: aiohttp gets the request whole


def test_the_fast_path_serves_a_plain_invoke() -> None:
    request = parse_request(invoke_bytes("Content-Type: application/json"), GUARD)
    assert request is not None and request.name == "f" and request.body == b"{}"
