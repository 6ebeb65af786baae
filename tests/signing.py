"""SigV4 signatures for the tests' raw HTTP requests, made by botocore as boto3 makes them:
Flare refuses unsigned requests, so a test that speaks HTTP itself signs like a client."""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

KEY = "test"
REGION = "us-east-1"


def signed_headers(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    key: str = KEY,
    secret: str = "test",
    region: str = REGION,
    service: str = "lambda",
) -> dict[str, str]:
    """``headers`` plus the ``Authorization`` and ``X-Amz-Date`` that sign a request of
    ``method`` to ``url`` (path and query exactly as sent) with ``body``."""
    request = AWSRequest(method, url, data=body or b"", headers=dict(headers or {}))
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return dict(request.headers.items())


def signed_urlopen(url: str | urllib.request.Request, timeout: float = 30) -> Any:
    """``urllib.request.urlopen`` of ``url`` (a URL, or a ``Request`` with its method, body and
    headers), signed first."""
    request = url if isinstance(url, urllib.request.Request) else urllib.request.Request(url)
    body = request.data if isinstance(request.data, bytes) else None
    headers = signed_headers(request.get_method(), request.full_url, body, dict(request.header_items()))
    for name, value in headers.items():
        request.add_header(name, value)
    return urllib.request.urlopen(request, timeout=timeout)


def signed_raw(
    method: str, base_url: str, target: str, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> bytes:
    """One whole HTTP/1.1 request (head and body, ``Content-Length`` framed, ``Host`` naming
    ``base_url``'s host and port) to ``target`` (path and query), signed."""
    host = base_url.removeprefix("http://").rstrip("/")
    signed = signed_headers(method, f"http://{host}{target}", body, headers)
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: {host}",
        *(f"{name}: {value}" for name, value in signed.items()),
    ]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
