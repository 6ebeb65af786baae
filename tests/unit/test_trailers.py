"""Following requests' framing on a Runtime API connection to keep chunked bodies' trailers."""

from __future__ import annotations

import pytest

from flare.sandbox.trailers import Framing

STREAM = (
    b"POST /2018-06-01/runtime/invocation/id-1/response HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    b"Lambda-Runtime-Function-Response-Mode: streaming\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n"
    b"5\r\nhello\r\n"
    b"a;ext=1\r\n0123456789\r\n"
    b"0\r\n"
    b"Lambda-Runtime-Function-Error-Type: Runtime.Broken\r\n"
    b"Lambda-Runtime-Function-Error-Body: eyJ4IjoxfQ==\r\n\r\n"
)
NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
FIXED = (
    b"POST /2018-06-01/runtime/invocation/id-2/response HTTP/1.1\r\nContent-Length: 12\r\n\r\n"
    b"0\r\n\r\nX: y\r\n\r\n"  # a body that looks like a chunked end: only its length counts
)
PLAIN_CHUNKED = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
ERROR_TRAILERS = {
    "lambda-runtime-function-error-type": "Runtime.Broken",
    "lambda-runtime-function-error-body": "eyJ4IjoxfQ==",
}


def fed(data: bytes, step: int) -> Framing:
    framing = Framing()
    for start in range(0, len(data), step):
        framing.feed(data[start : start + step])
    return framing


@pytest.mark.parametrize("step", [1, 2, 7, 64, 1 << 20])
def test_trailers_are_kept_however_the_bytes_arrive(step: int) -> None:
    framing = fed(NEXT + FIXED + STREAM + NEXT, step)
    assert framing.take() == ERROR_TRAILERS
    assert framing.take() == {}


def test_each_chunked_request_keeps_its_own_trailers_in_order() -> None:
    framing = fed(STREAM + PLAIN_CHUNKED + STREAM, 5)
    assert [framing.take(), framing.take(), framing.take(), framing.take()] == [
        ERROR_TRAILERS,
        {},
        ERROR_TRAILERS,
        {},
    ]


def test_a_chunked_body_not_yet_ended_has_no_trailers_yet() -> None:
    framing = fed(STREAM[:-2], 3)
    assert framing.take() == {}
    framing.feed(STREAM[-2:])
    assert framing.take() == ERROR_TRAILERS


def test_framing_it_cannot_follow_is_given_up_without_raising() -> None:
    framing = fed(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + STREAM, 4)
    assert framing.take() == {}
