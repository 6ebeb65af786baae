"""GetFunction's signed, expiring code locations (control/code_url.py)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import pytest

from flare.control.code_url import EXPIRES_S, CodeUrlRefused, check, signed_url

KEY = b"k" * 32
DIGEST = "a" * 64
NOW = 1_795_000_000.0


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_a_signed_url_is_a_presigned_looking_url_of_flares_own_port() -> None:
    url = signed_url(KEY, "http://127.0.0.1:9000", DIGEST, NOW)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "http",
        "127.0.0.1:9000",
        f"/_flare/code/{DIGEST}.zip",
    )
    query = query_of(url)
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "600"
    assert len(query["X-Amz-Signature"]) == 64
    check(KEY, DIGEST, query, NOW + EXPIRES_S)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda q: {**q, "X-Amz-Signature": "0" * 64}, "SignatureDoesNotMatch"),
        (lambda q: {**q, "X-Amz-Expires": "86400"}, "SignatureDoesNotMatch"),
        (lambda q: {**q, "X-Amz-Date": "20991231T000000Z"}, "SignatureDoesNotMatch"),
        (lambda q: {k: v for k, v in q.items() if k != "X-Amz-Signature"}, "AccessDenied"),
    ],
)
def test_an_altered_url_is_refused(change: Callable[[dict[str, str]], dict[str, str]], code: str) -> None:
    query = query_of(signed_url(KEY, "http://h", DIGEST, NOW))
    with pytest.raises(CodeUrlRefused) as caught:
        check(KEY, DIGEST, change(query), NOW)
    assert caught.value.code == code


def test_a_url_for_one_digest_does_not_open_another() -> None:
    query = query_of(signed_url(KEY, "http://h", DIGEST, NOW))
    with pytest.raises(CodeUrlRefused, match="signature"):
        check(KEY, "b" * 64, query, NOW)


def test_a_url_expires_ten_minutes_after_it_was_made() -> None:
    query = query_of(signed_url(KEY, "http://h", DIGEST, NOW))
    with pytest.raises(CodeUrlRefused, match="Request has expired"):
        check(KEY, DIGEST, query, NOW + EXPIRES_S + 1)


def test_another_key_signs_differently() -> None:
    query = query_of(signed_url(b"x" * 32, "http://h", DIGEST, NOW))
    with pytest.raises(CodeUrlRefused):
        check(KEY, DIGEST, query, NOW)
