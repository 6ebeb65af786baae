"""CORS for function URLs: preflight answers and the headers added to responses."""

from __future__ import annotations

import pytest

from flare.api import cors

CONFIG = {
    "AllowOrigins": ["https://app.example.com"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["x-custom", "content-type"],
    "ExposeHeaders": ["x-count"],
    "MaxAge": 300,
}


@pytest.mark.parametrize(
    ("config", "origin", "expected"),
    [
        (CONFIG, "https://app.example.com", "https://app.example.com"),
        (CONFIG, "HTTPS://APP.EXAMPLE.COM", "HTTPS://APP.EXAMPLE.COM"),
        (CONFIG, "https://evil.example.com", None),
        (CONFIG, None, None),
        ({"AllowOrigins": ["*"]}, "https://any.example", "*"),
        ({"AllowOrigins": ["*"], "AllowCredentials": True}, "https://any.example", "https://any.example"),
        ({"AllowMethods": ["GET"]}, "https://any.example", None),
    ],
)
def test_which_origins_are_allowed_and_how_they_are_answered(
    config: dict[str, object], origin: str | None, expected: str | None
) -> None:
    assert cors.allowed_origin(config, origin) == expected


def test_a_preflight_from_an_allowed_origin_gets_the_configured_rules() -> None:
    assert cors.preflight_headers(CONFIG, "https://app.example.com") == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Vary": "Origin",
        "Access-Control-Allow-Methods": "GET,POST",
        "Access-Control-Allow-Headers": "x-custom,content-type",
        "Access-Control-Max-Age": "300",
    }
    assert cors.preflight_headers(CONFIG, "https://evil.example.com") == {}


def test_responses_to_allowed_origins_expose_headers_and_allow_credentials() -> None:
    config = {**CONFIG, "AllowCredentials": True}
    assert cors.response_headers(config, "https://app.example.com") == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
        "Access-Control-Expose-Headers": "x-count",
    }
    assert cors.response_headers(config, None) == {}


@pytest.mark.parametrize(
    ("method", "headers", "preflight"),
    [
        ("OPTIONS", {"origin": "o", "access-control-request-method": "POST"}, True),
        ("OPTIONS", {"origin": "o"}, False),
        ("OPTIONS", {}, False),
        ("POST", {"origin": "o", "access-control-request-method": "POST"}, False),
    ],
)
def test_what_is_a_preflight(method: str, headers: dict[str, str], preflight: bool) -> None:
    assert cors.is_preflight(method, headers) is preflight


def test_configured_headers_replace_the_functions_own() -> None:
    headers = [("access-control-allow-origin", "*"), ("X-Other", "1")]
    assert cors.merged(headers, {"Access-Control-Allow-Origin": "https://a"}) == [
        ("X-Other", "1"),
        ("Access-Control-Allow-Origin", "https://a"),
    ]
    assert cors.merged(headers, {}) == headers
