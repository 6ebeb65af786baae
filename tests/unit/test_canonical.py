"""The signature Flare recomputes for a request is the one botocore's own signer gave it: for
every shape of request the SDKs send (header or presigned, odd paths, queries, repeated
headers, bodies, session tokens), and a change to anything signed changes it."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from flare.auth import sigv4
from flare.auth.canonical import Canonicalizer, signatures_match

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "127.0.0.1:9000"


def arrived(request: AWSRequest) -> tuple[str, str, str, dict[str, str], bytes]:
    """What a server reads off ``request`` as botocore sends it: method, raw path, raw query,
    headers by lower-case name (with the Host the client sends), body."""
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    headers = {name.lower(): value for name, value in prepared.headers.items()}
    headers.setdefault("host", split.netloc)
    assert prepared.body is None or isinstance(prepared.body, (bytes, str))  # never a stream here
    body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
    return prepared.method, split.path, split.query, headers, body


def recomputed(request: AWSRequest, secret: str = SECRET) -> tuple[str, str]:
    """(the signature Flare computes for ``request``, the one it carries)."""
    method, path, query, headers, body = arrived(request)
    claim = sigv4.claim_of(headers, dict(parse_qsl(query, keep_blank_values=True)))
    return Canonicalizer().signature(secret, claim, method, path, query, headers, body), claim.signature


REQUESTS = [
    ("GET", "/2015-03-31/functions/", b"", {}),
    ("GET", "/2015-03-31/functions/?MaxItems=5&Marker=a%2Fb", b"", {}),
    ("POST", "/2015-03-31/functions/my-function/invocations?Qualifier=%24LATEST", b'{"a": 1}', {}),
    (
        "POST",
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations",
        b"{}",
        {},
    ),
    ("PUT", "/2015-03-31/functions/f/code", b'{"ZipFile": "UEsFBg=="}', {"X-Amz-Client-Context": "e30="}),
    (
        "DELETE",
        "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Af?tagKeys=b&tagKeys=a",
        b"",
        {},
    ),
    ("GET", "/2015-03-31/functions/f/policy?Qualifier=a%20b%2Bc", b"", {}),
    (
        "POST",
        "/",
        b'{"QueueName": "q"}',
        {"X-Amz-Target": "AmazonSQS.CreateQueue", "Content-Type": "application/x-amz-json-1.0"},
    ),
    (
        "POST",
        "/2015-03-31/functions/f/invocations",
        '{"é": "ü"}'.encode(),
        {"X-Amz-Invocation-Type": "Event"},
    ),
]


@pytest.mark.parametrize(("method", "target", "body", "headers"), REQUESTS)
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLETOKEN"])
def test_a_header_signature_is_botocores(
    method: str, target: str, body: bytes, headers: dict[str, str], token: str | None
) -> None:
    request = AWSRequest(method, f"http://{HOST}{target}", data=body, headers=headers)
    SigV4Auth(Credentials("AKIDEXAMPLE", SECRET, token), "lambda", "eu-west-1").add_auth(request)
    expected, carried = recomputed(request)
    assert signatures_match(expected, carried)


@pytest.mark.parametrize(("method", "target", "body", "headers"), REQUESTS[:3])
def test_a_presigned_query_is_botocores(
    method: str, target: str, body: bytes, headers: dict[str, str]
) -> None:
    request = AWSRequest(method, f"http://{HOST}{target}", data=body, headers=headers)
    SigV4QueryAuth(Credentials("AKIDEXAMPLE", SECRET), "lambda", "us-east-1", expires=300).add_auth(request)
    expected, carried = recomputed(request)
    assert signatures_match(expected, carried)


def signed(body: bytes = b"{}", target: str = "/2015-03-31/functions/f/invocations") -> AWSRequest:
    request = AWSRequest(
        "POST", f"http://{HOST}{target}", data=body, headers={"X-Amz-Invocation-Type": "Event"}
    )
    SigV4Auth(Credentials("AKIDEXAMPLE", SECRET), "lambda", "us-east-1").add_auth(request)
    return request


def test_a_wrong_secret_gives_another_signature() -> None:
    expected, carried = recomputed(signed(), SECRET + "x")
    assert not signatures_match(expected, carried)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda request: setattr(request, "data", b'{"b": 2}'),  # the body
        lambda request: request.headers.replace_header("X-Amz-Invocation-Type", "RequestResponse"),
        lambda request: setattr(request, "url", request.url.replace("/f/", "/g/")),  # the path
        lambda request: setattr(request, "url", request.url + "?Qualifier=1"),  # the query
        lambda request: request.headers.replace_header("X-Amz-Date", "20200101T000000Z"),
    ],
)
def test_anything_signed_changed_in_flight_breaks_the_signature(tamper: object) -> None:
    request = signed()
    assert callable(tamper)
    tamper(request)
    expected, carried = recomputed(request)
    assert not signatures_match(expected, carried)


def test_an_unsigned_header_may_change() -> None:
    request = signed()
    method, path, query, headers, body = arrived(request)
    headers["user-agent"] = "something else"
    claim = sigv4.claim_of(headers, {})
    assert signatures_match(
        Canonicalizer().signature(SECRET, claim, method, path, query, headers, body), claim.signature
    )


def test_a_declared_payload_hash_does_not_stand_in_for_the_body() -> None:
    request = AWSRequest("POST", f"http://{HOST}/2015-03-31/functions/f/invocations", data=b"{}")
    request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    SigV4Auth(Credentials("AKIDEXAMPLE", SECRET), "lambda", "us-east-1").add_auth(request)
    expected, carried = recomputed(request)
    assert not signatures_match(expected, carried)


def test_the_canonicalizer_answers_the_same_twice_from_its_caches() -> None:
    request = signed()
    method, path, query, headers, body = arrived(request)
    claim = sigv4.claim_of(headers, {})
    canonical = Canonicalizer()
    first = canonical.signature(SECRET, claim, method, path, query, headers, body)
    assert canonical.signature(SECRET, claim, method, path, query, headers, body) == first
    assert signatures_match(first, claim.signature)
