"""A request to a function URL as its function receives it: the payload format 2.0 event.

As Lambda builds it for function URLs (API Gateway's format 2.0 with ``$default`` placeholders):

* ``rawPath`` and ``requestContext.http.path`` are the path as sent (not decoded);
  ``rawQueryString`` the query as sent, and ``queryStringParameters`` its decoded pairs, the
  values of a repeated name joined with commas (absent when there is no query);
* ``headers``: names lower-cased, repeated headers joined with commas; the ``cookie`` header
  becomes ``cookies`` (one entry per cookie, absent when there are none); Lambda adds
  ``x-amzn-trace-id``, ``x-forwarded-for`` / ``-port`` / ``-proto``;
* ``body`` (absent when empty) is the text for text content types (``text/*``, JSON, XML,
  JavaScript) that are valid UTF-8, and base64 otherwise, which ``isBase64Encoded`` says;
* ``requestContext``: ``accountId`` (``anonymous`` for ``AuthType: NONE``, else the owner's),
  ``apiId`` and ``domainPrefix`` (the URL id), ``domainName`` (the ``Host``), ``http``,
  ``requestId``, ``time`` (``12/Mar/2020:19:03:58 +0000``), ``timeEpoch`` (ms), and for
  ``AWS_IAM`` the caller in ``authorizer.iam``.

All functions here are pure.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TEXT_MARKERS = ("json", "xml", "javascript")


@dataclass(frozen=True)
class UrlRequest:
    """One HTTP request, as received. ``target`` is the request line's path and query."""

    method: str
    target: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    port: int
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class Caller:
    """Who the request says it is (``AuthType: AWS_IAM``): ``authorizer.iam``'s fields."""

    access_key: str
    account_id: str


@dataclass(frozen=True)
class Invoked:
    """Who serves the request: the URL's id, its owner's account, the invocation's request id
    and X-Ray trace header, when (epoch seconds), and the caller (None for ``AuthType: NONE``)."""

    url_id: str
    owner: str
    request_id: str
    trace_id: str
    now_s: float
    caller: Caller | None = None


def request_event(request: UrlRequest, invoked: Invoked) -> dict[str, Any]:
    """The event for ``request`` (see the module docstring)."""
    raw_path, _, raw_query = request.target.partition("?")
    headers, cookies = event_headers(request, invoked.trace_id)
    url_id, caller, now_s = invoked.url_id, invoked.caller, invoked.now_s
    context: dict[str, Any] = {
        "accountId": invoked.owner if caller is not None else "anonymous",
        "apiId": url_id,
        "domainName": headers.get("host", ""),
        "domainPrefix": url_id,
        "http": {
            "method": request.method,
            "path": raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": invoked.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": request_time(now_s),
        "timeEpoch": int(now_s * 1000),
    }
    if caller is not None:
        context["authorizer"] = {"iam": iam_identity(caller)}
    event: dict[str, Any] = {"version": "2.0", "routeKey": "$default", "rawPath": raw_path}
    event["rawQueryString"] = raw_query
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if raw_query:
        event["queryStringParameters"] = query_parameters(raw_query)
    event["requestContext"] = context
    body, encoded = event_body(request.body, headers.get("content-type", ""))
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def event_headers(request: UrlRequest, trace_id: str) -> tuple[dict[str, str], list[str]]:
    """The event's ``headers`` and ``cookies`` (see the module docstring); ``trace_id`` is the
    invocation's X-Ray header, whose ``Root`` goes into ``x-amzn-trace-id``."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies += [part.strip() for part in value.split(";") if part.strip()]
        elif key in headers:
            headers[key] = f"{headers[key]},{value}"
        else:
            headers[key] = value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers["x-forwarded-port"] = str(request.port)
    headers["x-forwarded-proto"] = "http"
    headers["x-amzn-trace-id"] = trace_id.split(";", 1)[0]
    return headers, cookies


def query_parameters(raw_query: str) -> dict[str, str]:
    """Decoded query parameters, a repeated name's values joined with commas."""
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    return parameters


def is_text(content_type: str) -> bool:
    """Whether a body of this content type goes into the event as text."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or any(marker in media for marker in TEXT_MARKERS)


def event_body(body: bytes, content_type: str) -> tuple[str | None, bool]:
    """``body`` and ``isBase64Encoded`` for a request body (None: no body)."""
    if not body:
        return None, False
    if is_text(content_type):
        try:
            return body.decode(), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode(), True


def request_time(epoch_s: float) -> str:
    """``requestContext.time``: ``07/Sep/2021:22:50:22 +0000`` (English months, any locale)."""
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return f"{moment:%d}/{MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def iam_identity(caller: Caller) -> dict[str, Any]:
    """``authorizer.iam`` for a signed request. Flare does not verify signatures yet: the
    identity is the one the signature names (its access key), in the owner's account."""
    return {
        "accessKey": caller.access_key,
        "accountId": caller.account_id,
        "callerId": caller.access_key,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": f"arn:aws:iam::{caller.account_id}:root",
        "userId": caller.account_id,
    }
