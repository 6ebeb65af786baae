"""The signature verifier under fire: ``--auth sigv4``, requests of every operation signed with
the server's admin key, then one part of the signature changed (issue 13, point 5).

Each request is signed by botocore over exactly the bytes sent, in the ``Authorization`` header
or as a presigned query, then tampered with: the algorithm, any part of the credential scope, the
signed headers, the signature itself, the date, a session token, the declared payload hash, a
presigned query's parameters, or the body after signing. (An unsigned header the verifier
ignores is no tampering: a declared ``X-Amz-Content-SHA256`` never stands in for the body's own
hash, which ``tests/unit/test_canonical.py`` checks.) Properties: never a 500 nor a
traceback, AWS's error shape, the engine alive, and a tampered request is never served (an
untouched one always is, or refused for its content, never for its signature).
"""

from __future__ import annotations

import configparser
import re
import subprocess
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.conftest import FLARE, FlareServer, free_port, wait_ready
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.model_requests import operation_names, well_formed
from tests.fuzz.properties import checked_answer
from tests.fuzz.raw_http import RawRequest

SIGNATURE_ERRORS = {
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "AccessDeniedException",
}
AUTHORIZATION = re.compile(r"(\S+) Credential=([^,]*), SignedHeaders=([^,]*), Signature=(\S*)")


@dataclass(frozen=True)
class Strict:
    server: FlareServer
    key: str
    secret: str


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Strict]:
    """A ``--auth sigv4`` server, its output to a file, its admin key from its own profile."""
    root = tmp_path_factory.mktemp("fuzz-sigv4")
    credentials = root / "credentials"
    port = free_port()
    args = [str(FLARE), "serve", "--port", str(port), "--data-dir", str(root / "data"), "--auth", "sigv4"]
    with pytest.MonkeyPatch.context() as patch, (root / "serve.log").open("ab") as sink:
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, text=True)
    server = FlareServer(f"http://127.0.0.1:{port}", root / "data", process, args)
    try:
        wait_ready(process, server.url)
        profile = configparser.ConfigParser()
        profile.read(credentials)
        yield Strict(server, profile["flare"]["aws_access_key_id"], profile["flare"]["aws_secret_access_key"])
    finally:
        server.stop()


HEADER_TEXT = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
"""What an HTTP header value may hold; others are refused by the HTTP parser before any
signature is read (the open-mode fuzzer, ``test_fuzz_routes.py``, sends those)."""


def _plain_headers(request: RawRequest) -> bool:
    return all(HEADER_TEXT.fullmatch(value) for _, value in request.headers)


def _requests() -> st.SearchStrategy[RawRequest]:
    services = ("lambda", "sqs", "kinesis", "logs")
    pairs = [(service, name) for service in services for name in operation_names(service)]
    return st.sampled_from(pairs).flatmap(lambda pair: well_formed(*pair))


def _sign(strict: Strict, request: RawRequest, presigned: bool) -> tuple[str, dict[str, str]]:
    """(target, headers) of ``request`` signed with the admin key: a ``GET`` presigned when
    ``presigned`` (what presigned URLs are for; botocore would move a body into the query)."""
    url = f"{strict.server.url}{request.target}"
    signing = AWSRequest(request.method, url, data=request.body, headers=dict(request.headers))
    credentials = Credentials(strict.key, strict.secret)
    if presigned and request.method == "GET":
        SigV4QueryAuth(credentials, request.service, "us-east-1", expires=300).add_auth(signing)
        assert signing.url is not None
        split = urllib.parse.urlsplit(signing.url)
        return f"{split.path}?{split.query}", dict(signing.headers.items())
    SigV4Auth(credentials, request.service, "us-east-1").add_auth(signing)
    return request.target, dict(signing.headers.items())


Tamper = Callable[[str, dict[str, str], bytes], tuple[str, dict[str, str], bytes]]


QUERY_NAMES = {1: "X-Amz-Algorithm", 2: "X-Amz-Credential", 3: "X-Amz-SignedHeaders", 4: "X-Amz-Signature"}
"""A presigned query's parameter for each part of the Authorization header."""


def _header_part(part: int, change: Callable[[str], str]) -> Tamper:
    """Change group ``part`` (1 algorithm, 2 credential, 3 signed headers, 4 signature) of the
    Authorization header, or the presigned query's parameter for it."""

    def tamper(target: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, str], bytes]:
        found = AUTHORIZATION.fullmatch(headers.get("Authorization", ""))
        if found is None:
            return _query_part(QUERY_NAMES[part], change)(target, headers, body)
        groups = list(found.groups())
        groups[part - 1] = change(groups[part - 1])
        value = f"{groups[0]} Credential={groups[1]}, SignedHeaders={groups[2]}, Signature={groups[3]}"
        return target, {**headers, "Authorization": value}, body

    return tamper


def _query_part(name: str, change: Callable[[str], str]) -> Tamper:
    """Change the presigned query's parameter ``name``; a request signed in its header instead
    gets its signature changed."""

    def tamper(target: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, str], bytes]:
        path, _, query = target.partition("?")
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if not any(key == name for key, _ in pairs):
            return _header_part(4, change)(target, headers, body)
        pairs = [(key, change(value) if key == name else value) for key, value in pairs]
        return f"{path}?{urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)}", headers, body

    return tamper


def _credential_field(index: int, values: list[str]) -> st.SearchStrategy[Tamper]:
    def change_with(value: str) -> Callable[[str], str]:
        def changed(credential: str) -> str:
            fields = credential.split("/")
            if index < len(fields):
                fields[index] = value if value != fields[index] else value + "x"
            return "/".join(fields)

        return changed

    return st.sampled_from(values).map(lambda value: _header_part(2, change_with(value)))


def _date(value: str) -> Tamper:
    """The signing date changed: the header's, or a presigned query's."""

    def tamper(target: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, str], bytes]:
        if "Authorization" not in headers:
            return _query_part("X-Amz-Date", lambda _: value)(target, headers, body)
        return target, {**headers, "X-Amz-Date": value}, body

    return tamper


def _token(value: str) -> Tamper:
    """A session token added (a long-term key carries none): in the header, or in a presigned
    query."""

    def tamper(target: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, str], bytes]:
        token = value or "x"
        if "Authorization" not in headers:
            return f"{target}&X-Amz-Security-Token={urllib.parse.quote(token, safe='')}", headers, body
        return target, {**headers, "X-Amz-Security-Token": token}, body

    return tamper


def _flip(signature: str) -> str:
    if not signature:
        return "0"
    last = signature[-1]
    return signature[:-1] + ("0" if last != "0" else "1")


TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)  # what a header may hold
TAMPERS: st.SearchStrategy[Tamper] = st.one_of(
    st.sampled_from(["AWS4-HMAC-SHA1", "AWS4-ECDSA-P256-SHA256", "", "aws4-hmac-sha256"]).map(
        lambda value: _header_part(1, lambda _: value)
    ),
    _credential_field(0, ["AKIAIOSFODNN7EXAMPLE", "", "test", "A" * 200, "ASIA" + "B" * 16]),
    _credential_field(1, ["19990101", "20991231", "2026-12-04", "", "abcdefgh"]),
    _credential_field(2, ["eu-west-1", "", "us-east-1 ", "ü"]),
    _credential_field(3, ["s3", "lambda ", "", "sts", "kinesis", "sqs", "logs"]),
    _credential_field(4, ["aws4_requests", "", "AWS4_REQUEST"]),
    st.sampled_from(["", "host", "host;x-amz-date;x-unknown", ";;", "x-amz-date"]).map(
        lambda value: _header_part(3, lambda _: value)
    ),
    st.just(_header_part(4, _flip)),
    st.sampled_from(["", "zz", "0" * 64, "0" * 63, "g" * 64, "0" * 4_000]).map(
        lambda value: _header_part(4, lambda _: value)
    ),
    TEXT.map(_token),
    st.binary(min_size=1, max_size=64).map(lambda extra: lambda t, h, b: (t, h, b + extra)),
    st.sampled_from(["-1", "0", "604801", "99999999999999999999", "abc", ""]).map(
        lambda value: _query_part("X-Amz-Expires", lambda _: value)
    ),
    st.sampled_from(["20991231T235959Z", "19990101T000000Z", "x"]).map(
        lambda value: _query_part("X-Amz-Date", lambda _: value)
    ),
)


def _raw(strict: Strict, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
    host = strict.server.url.removeprefix("http://")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [
        f"{name}: {value}"
        for name, value in headers.items()
        if name.lower() not in ("content-length", "host")
    ]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body  # as http.client


def _send(strict: Strict, request: RawRequest, data: bytes) -> tuple[int, dict[str, Any], bytes]:
    reply = checked_answer(strict.server, request, data)
    return reply.status, reply.headers, reply.body


def _error_code(headers: dict[str, Any], body: bytes) -> str:
    code = str(headers.get("x-amzn-errortype", "")).split(":")[0]
    if not code:
        found = re.search(rb'"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"', body)
        code = found.group(1).decode() if found else ""
    query = str(headers.get("x-amzn-query-error", "")).split(";")[0]
    return query or code


@fuzz_settings(ci_examples=300)
@given(request=_requests(), presigned=st.booleans(), tamper=TAMPERS)
def test_a_tampered_signature_is_never_served(
    strict: Strict, request: RawRequest, presigned: bool, tamper: Tamper
) -> None:
    assume(_plain_headers(request))
    target, headers = _sign(strict, request, presigned)
    tampered_target, tampered_headers, body = tamper(target, headers, request.body)
    if (tampered_target, tampered_headers, body) == (target, headers, request.body):
        return  # the change happened to be none
    sent = _raw(strict, request.method, tampered_target, tampered_headers, body)
    status, reply_headers, reply_body = _send(strict, replace(request, target=tampered_target), sent)
    code = _error_code(reply_headers, reply_body)
    assert status >= 400 and code in SIGNATURE_ERRORS, (
        f"a tampered request was answered {status} {code!r}: {request.describe()} "
        f"sent as {tampered_target[:200]} {str(tampered_headers)[:600]}"
    )


@fuzz_settings(ci_examples=100)
@given(request=_requests(), presigned=st.booleans())
def test_an_untouched_signature_is_accepted(strict: Strict, request: RawRequest, presigned: bool) -> None:
    assume(_plain_headers(request))
    target, headers = _sign(strict, request, presigned)
    status, reply_headers, reply_body = _send(
        strict, request, _raw(strict, request.method, target, headers, request.body)
    )
    code = _error_code(reply_headers, reply_body)
    assert code not in SIGNATURE_ERRORS - {"AccessDeniedException"}, (
        f"a well-signed request was refused {status} {code!r}: {request.describe()}"
    )
