"""Telling function URL requests by their Host, and who a signed request says it is."""

from __future__ import annotations

import pytest

from flare.api.function_url import signed_caller, url_id_of
from flare.api.url_event import Caller

URL_ID = "abcdefghijklmnopqrstuvwxyz012345"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (f"{URL_ID}.lambda-url.us-east-1.localhost:9000", URL_ID),
        (f"{URL_ID.upper()}.LAMBDA-URL.us-east-1.localhost", URL_ID),
        (f"{URL_ID}.lambda-url.eu-west-1.on.aws", URL_ID),
        ("127.0.0.1:9000", None),
        ("localhost", None),
        ("lambda.us-east-1.amazonaws.com", None),
    ],
)
def test_a_function_url_host_names_its_url_id(host: str, expected: str | None) -> None:
    assert url_id_of(host) == expected


AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/lambda/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"Authorization": AUTHORIZATION}, {}, Caller("AKIDEXAMPLE", "123456789012")),
        (
            {},
            {
                "X-Amz-Signature": "abc",
                "X-Amz-Credential": "AKIDQUERY/20260101/us-east-1/lambda/aws4_request",
            },
            Caller("AKIDQUERY", "123456789012"),
        ),
        ({}, {}, None),
        ({"Authorization": "Bearer token"}, {}, None),
        ({"Authorization": "AWS AKID:sig"}, {}, None),
    ],
)
def test_only_sigv4_signed_requests_name_a_caller(
    headers: dict[str, str], query: dict[str, str], expected: Caller | None
) -> None:
    assert signed_caller(headers, query, "123456789012") == expected
