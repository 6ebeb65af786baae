"""Download links of stored zips: signed, expiring after 10 minutes like S3's presigned URLs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from flare.clock import ManualClock
from flare.control.code_links import CodeLinks

DIGEST = "ab" * 32


def parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path, query["Expires"][0], query["Signature"][0]


def test_link_is_under_the_callers_base_url_and_valid_ten_minutes() -> None:
    clock = ManualClock(wall_start=1_000_000.0)
    links = CodeLinks(clock, key=b"k")
    url = links.url("http://127.0.0.1:9000", DIGEST)

    path, expires, signature = parts(url)
    assert url.startswith("http://127.0.0.1:9000/")
    assert path == f"/_flare/code/{DIGEST}.zip"
    assert expires == str(1_000_000 + 600)
    assert links.refusal(DIGEST, expires, signature) is None


def test_expired_link_is_refused() -> None:
    clock = ManualClock(wall_start=1_000_000.0)
    links = CodeLinks(clock, key=b"k")
    _, expires, signature = parts(links.url("http://h", DIGEST))

    clock.advance(601)

    assert links.refusal(DIGEST, expires, signature) == "Request has expired"


@pytest.mark.parametrize(
    ("digest", "expires", "signature"),
    [
        ("cd" * 32, None, None),  # another zip with this link's signature (filled in below)
        (DIGEST, "9999999999", None),  # a later expiry with this link's signature
        (DIGEST, None, "0" * 64),
    ],
)
def test_tampered_links_are_refused(digest: str, expires: str | None, signature: str | None) -> None:
    links = CodeLinks(ManualClock(wall_start=1_000_000.0), key=b"k")
    _, real_expires, real_signature = parts(links.url("http://h", DIGEST))

    reason = links.refusal(digest, expires or real_expires, signature or real_signature)

    assert reason is not None and "signature" in reason


def test_a_link_from_another_engine_key_is_refused() -> None:
    clock = ManualClock(wall_start=1_000_000.0)
    _, expires, signature = parts(CodeLinks(clock, key=b"old").url("http://h", DIGEST))
    assert CodeLinks(clock, key=b"new").refusal(DIGEST, expires, signature) is not None


@pytest.mark.parametrize(
    ("digest", "expires", "signature"),
    [("../etc/passwd", "1", "s"), (DIGEST, None, "s"), (DIGEST, "1", None)],
)
def test_malformed_requests_are_refused(digest: str, expires: str | None, signature: str | None) -> None:
    links = CodeLinks(ManualClock(), key=b"k")
    assert links.refusal(digest, expires, signature) == "Request is not a Flare download link"
