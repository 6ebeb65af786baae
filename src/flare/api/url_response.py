"""A function's answer to a function URL request, as the HTTP response Lambda sends for it.

A ``BUFFERED`` URL reads the payload as payload format 2.0 does:

* a JSON object with ``statusCode`` is a response: ``statusCode`` (an integer, or a string of
  one), ``headers`` (values sent as text), ``cookies`` (one ``Set-Cookie`` each), ``body`` (text;
  the base64 of the bytes when ``isBase64Encoded``); ``Content-Type`` is ``application/json``
  unless the headers say otherwise; format 2.0 has no ``multiValueHeaders`` (ignored);
* any other answer is the body of a 200 ``application/json`` response: a JSON string is its
  text (Lambda answers ``"hello"`` with ``hello``), anything else the payload as returned;
* a response that cannot be made (a bad ``statusCode``, a body that is not base64 although
  ``isBase64Encoded`` says it is) is Lambda's 502.

A ``RESPONSE_STREAM`` URL passes the stream through as it comes, unless it starts with an HTTP
head (content type ``application/vnd.awslambda.http-integration-response``): a JSON object with
``statusCode``, ``headers`` and ``cookies``, then eight NUL bytes, then the body.

All functions here are pure.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"})
PRELUDE_END = bytes(8)
MAX_PRELUDE = 64 * 1024


class BadFunctionResponse(ValueError):
    """The function's answer cannot be made into an HTTP response (Lambda answers 502)."""


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP response: status, headers in order (a name may repeat), body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


def http_answer(payload: bytes) -> HttpAnswer:
    """The response for a ``BUFFERED`` URL's invocation payload. Raises BadFunctionResponse."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return HttpAnswer(200, [("Content-Type", "application/json")], payload)
    if isinstance(answer, dict) and "statusCode" in answer:
        head = http_head(answer)
        return HttpAnswer(head.status, head.headers, response_body(answer))
    body = answer.encode() if isinstance(answer, str) else payload
    return HttpAnswer(200, [("Content-Type", "application/json")], body)


def http_head(answer: dict[str, Any]) -> HttpAnswer:
    """Status and headers of a format 2.0 response object (or a stream's head), without its
    body. Raises BadFunctionResponse."""
    status = answer.get("statusCode", 200)
    if isinstance(status, str) and status.strip().isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadFunctionResponse(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    given = answer.get("headers")
    if isinstance(given, dict):
        headers += [(str(name), header_text(value)) for name, value in given.items()]
    headers = [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.insert(0, ("Content-Type", "application/json"))
    cookies = answer.get("cookies")
    if isinstance(cookies, list):
        headers += [("Set-Cookie", str(cookie)) for cookie in cookies]
    return HttpAnswer(status, headers)


def header_text(value: Any) -> str:
    """A header value as sent: text as it is, anything else as JSON (``true``, ``5``)."""
    return value if isinstance(value, str) else json.dumps(value)


def response_body(answer: dict[str, Any]) -> bytes:
    """The body bytes of a format 2.0 response object. Raises BadFunctionResponse."""
    body = answer.get("body")
    if body is None:
        return b""
    text = body if isinstance(body, str) else json.dumps(body)
    if answer.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            raise BadFunctionResponse("isBase64Encoded, but the body is not base64") from None
    return text.encode()


def split_prelude(data: bytes) -> tuple[HttpAnswer, bytes] | None:
    """The head of a stream that starts with one, and the body bytes after it; None while
    ``data`` does not hold the whole head yet. Raises BadFunctionResponse (not JSON, or longer
    than 64 KB)."""
    end = data.find(PRELUDE_END)
    if end < 0:
        if len(data) > MAX_PRELUDE:
            raise BadFunctionResponse("the stream's HTTP head is longer than 64 KB")
        return None
    try:
        head = json.loads(data[:end])
    except ValueError:
        raise BadFunctionResponse("the stream's HTTP head is not JSON") from None
    if not isinstance(head, dict):
        raise BadFunctionResponse("the stream's HTTP head is not a JSON object")
    return http_head(head), data[end + len(PRELUDE_END) :]
