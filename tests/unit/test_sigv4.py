"""Reading a SigV4 signature off a request, and AWS's checks before the signature itself: what
is missing or malformed, the 15 minutes of skew, a presigned URL's lifetime, the scope."""

from __future__ import annotations

import pytest

from flare.auth import sigv4
from flare.errors import IncompleteSignature, InvalidSignature, MissingAuthenticationToken

DATE = "20261204T170000Z"
GOOD = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261204/eu-west-1/lambda/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "ab" * 32
)


def test_the_usual_header_is_read_whole() -> None:
    claim = sigv4.claim_of({"authorization": GOOD, "x-amz-date": DATE, "x-amz-security-token": "t"}, {})
    assert (claim.access_key_id, claim.date, claim.region, claim.service, claim.terminator) == (
        "AKIDEXAMPLE",
        "20261204",
        "eu-west-1",
        "lambda",
        "aws4_request",
    )
    assert (claim.signed_headers, claim.timestamp, claim.token, claim.presigned) == (
        "host;x-amz-date",
        DATE,
        "t",
        False,
    )


def test_an_unusual_but_valid_header_reads_the_same() -> None:
    unusual = (
        "AWS4-HMAC-SHA256  SignedHeaders=host;x-amz-date,Signature=" + "ab" * 32 + ","
        " Credential=AKIDEXAMPLE/20261204/eu-west-1/lambda/aws4_request"
    )
    headers = {"x-amz-date": DATE}
    assert sigv4.claim_of({"authorization": unusual, **headers}, {}) == sigv4.claim_of(
        {"authorization": GOOD, **headers}, {}
    )


def test_an_http_date_stands_in_for_x_amz_date() -> None:
    claim = sigv4.claim_of({"authorization": GOOD, "date": "Fri, 04 Dec 2026 17:00:00 GMT"}, {})
    assert claim.timestamp == DATE


@pytest.mark.parametrize(
    ("headers", "query", "error", "message"),
    [
        ({}, {}, MissingAuthenticationToken, "Missing Authentication Token"),
        ({"authorization": "Bearer abc"}, {}, MissingAuthenticationToken, "Missing Authentication Token"),
        (
            {"authorization": "AWS4-HMAC-SHA1 Credential=a"},
            {},
            IncompleteSignature,
            "Unsupported AWS 'algorithm'",
        ),
        (
            {"authorization": "AWS4-HMAC-SHA256 Credential=a/b/c/d/e", "x-amz-date": DATE},
            {},
            IncompleteSignature,
            "Authorization header requires 'Signature' parameter. "
            "Authorization header requires 'SignedHeaders' parameter.",
        ),
        (
            {"authorization": "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=ab"},
            {},
            IncompleteSignature,
            "requires existence of either a 'X-Amz-Date' or a 'Date' header",
        ),
        (
            {
                "authorization": "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=ab",
                "x-amz-date": DATE,
            },
            {},
            IncompleteSignature,
            "Credential must have exactly 5 slash-delimited elements",
        ),
        (
            {"authorization": GOOD, "x-amz-date": "yesterday"},
            {},
            IncompleteSignature,
            "ISO-8601 'basic format'",
        ),
        ({"authorization": "AWS4-HMAC-SHA256 Credential"}, {}, IncompleteSignature, "missing equal-sign"),
        (
            {},
            {"X-Amz-Credential": "a/b/c/d/e"},
            IncompleteSignature,
            "AWS query-string parameters must include",
        ),
    ],
)
def test_what_aws_answers_a_missing_or_malformed_signature(
    headers: dict[str, str], query: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        sigv4.claim_of(headers, query)
    assert message in str(raised.value)


def presigned(expires: str = "300", date: str = DATE) -> dict[str, str]:
    return {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "111122223333/20261204/us-east-1/lambda/aws4_request",
        "X-Amz-Date": date,
        "X-Amz-Expires": expires,
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": "cd" * 32,
    }


def test_a_presigned_query_is_read() -> None:
    claim = sigv4.claim_of({}, presigned())
    assert (claim.access_key_id, claim.expires, claim.presigned, claim.signature) == (
        "111122223333",
        300,
        True,
        "cd" * 32,
    )


@pytest.mark.parametrize("expires", ["0", "-1", "x", str(7 * 24 * 3600 + 1)])
def test_a_presigned_lifetime_is_1_s_to_7_days(expires: str) -> None:
    with pytest.raises(IncompleteSignature, match="X-Amz-Expires"):
        sigv4.claim_of({}, presigned(expires))


SIGNED_AT = sigv4.epoch_of(DATE)


@pytest.mark.parametrize(
    ("offset", "accepted", "message"),
    [
        (0, True, ""),
        (14 * 60, True, ""),  # signed 14 minutes ago
        (-14 * 60, True, ""),  # the client's clock 14 minutes ahead
        (16 * 60, False, "Signature expired: 20261204T170000Z is now earlier than 20261204T170100Z"),
        (-16 * 60, False, "Signature not yet current: 20261204T170000Z is still later than"),
    ],
)
def test_a_header_signature_holds_15_minutes_either_way(offset: int, accepted: bool, message: str) -> None:
    claim = sigv4.claim_of({"authorization": GOOD, "x-amz-date": DATE}, {})
    if accepted:
        sigv4.check_time(claim, SIGNED_AT, SIGNED_AT + offset)
    else:
        with pytest.raises(InvalidSignature, match=message):
            sigv4.check_time(claim, SIGNED_AT, SIGNED_AT + offset)


def test_a_presigned_request_holds_for_its_expires() -> None:
    claim = sigv4.claim_of({}, presigned("60"))
    sigv4.check_time(claim, SIGNED_AT, SIGNED_AT + 59)
    with pytest.raises(InvalidSignature, match=r"\(20261204T170101Z - 60 sec.\)"):
        sigv4.check_time(claim, SIGNED_AT, SIGNED_AT + 61)


@pytest.mark.parametrize(
    ("authorization", "service", "message"),
    [
        (GOOD, "sqs", "Credential should be scoped to correct service: 'sqs'."),
        (GOOD.replace("aws4_request", "aws5_request"), "lambda", "valid terminator: 'aws4_request'"),
        (GOOD.replace("/20261204/", "/20261203/"), "lambda", "Date in Credential scope does not match"),
        (GOOD.replace("host;x-amz-date", "x-amz-date"), "lambda", "'Host' must be a 'SignedHeader'"),
    ],
)
def test_the_credential_scope_must_fit_the_request(authorization: str, service: str, message: str) -> None:
    claim = sigv4.claim_of({"authorization": authorization, "x-amz-date": DATE}, {})
    with pytest.raises(InvalidSignature, match=message):
        sigv4.check_scope(claim, service)


def test_a_fitting_scope_passes() -> None:
    sigv4.check_scope(sigv4.claim_of({"authorization": GOOD, "x-amz-date": DATE}, {}), "lambda")
