"""CORS for function URLs, from the URL's ``Cors`` config.

When a URL has ``Cors``, Lambda answers browsers' preflight requests itself (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``; the function is not invoked) and adds the CORS
headers to the function's responses, replacing any of the same name the function set. Without
``Cors`` nothing is added and ``OPTIONS`` reaches the function like any method.

An origin is allowed when ``AllowOrigins`` holds it (compared without regard to case) or ``*``.
``Access-Control-Allow-Origin`` is then ``*`` when ``*`` is configured and credentials are not
allowed, else the request's origin (with ``Vary: Origin``). A preflight from an origin that is
not allowed gets an empty 200 without CORS headers, which the browser refuses.

All functions here are pure; ``cors`` is the config's ``Cors`` object, header names as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def enabled(cors: Mapping[str, Any] | None) -> bool:
    return bool(cors)


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """A browser's preflight: ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``
    (``headers`` must answer lower-case names)."""
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def allowed_origin(cors: Mapping[str, Any], origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for ``origin``, or None if it is not allowed."""
    if not origin:
        return None
    origins = [str(item) for item in cors.get("AllowOrigins") or []]
    if "*" in origins:
        return origin if cors.get("AllowCredentials") else "*"
    if origin.lower() in (item.lower() for item in origins):
        return origin
    return None


def _origin_headers(cors: Mapping[str, Any], allow: str) -> dict[str, str]:
    headers = {"Access-Control-Allow-Origin": allow}
    if cors.get("AllowCredentials"):
        headers["Access-Control-Allow-Credentials"] = "true"
    if allow != "*":
        headers["Vary"] = "Origin"
    return headers


def preflight_headers(cors: Mapping[str, Any], origin: str | None) -> dict[str, str]:
    """The headers of the answer to a preflight from ``origin`` ({} if it is not allowed)."""
    allow = allowed_origin(cors, origin)
    if allow is None:
        return {}
    headers = _origin_headers(cors, allow)
    if cors.get("AllowMethods"):
        headers["Access-Control-Allow-Methods"] = ",".join(cors["AllowMethods"])
    if cors.get("AllowHeaders"):
        headers["Access-Control-Allow-Headers"] = ",".join(cors["AllowHeaders"])
    if cors.get("MaxAge") is not None:
        headers["Access-Control-Max-Age"] = str(cors["MaxAge"])
    return headers


def response_headers(cors: Mapping[str, Any], origin: str | None) -> dict[str, str]:
    """The CORS headers for a response to a request from ``origin`` ({} if it is not allowed)."""
    allow = allowed_origin(cors, origin)
    if allow is None:
        return {}
    headers = _origin_headers(cors, allow)
    if cors.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ",".join(cors["ExposeHeaders"])
    return headers


def merged(headers: list[tuple[str, str]], added: Mapping[str, str]) -> list[tuple[str, str]]:
    """``headers`` with ``added`` in place of any header of the same name."""
    if not added:
        return headers
    names = {name.lower() for name in added}
    return [(name, value) for name, value in headers if name.lower() not in names] + list(added.items())
