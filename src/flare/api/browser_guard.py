"""The browser is not a client: what a web page can make a developer's browser send is refused.

Flare's port is reachable from every page the developer's browser opens. A page may send
requests to it without asking first (a form, an image, a "simple" ``fetch``) and, through DNS
rebinding, even read the answers. The AWS SDKs and CLIs never look like a browser, so every API
request (function URLs excepted: they follow their own ``Cors`` config, ``function_url.py``) is
refused with 403 before anything else reads it when

* it carries an ``Origin`` the operator did not allow with ``flare serve --cors-origin``
  (browsers send ``Origin`` on every cross-origin request and on every ``POST``), or, without
  one, ``Sec-Fetch-Site: cross-site`` / ``same-site`` (a page's image or link);
* its ``Host`` does not name this server: an IP address, ``localhost``, or a name given with
  ``--allowed-host`` (a rebound name such as ``evil.example:9000`` is refused);

and with 415 when it has a body whose ``Content-Type`` is none the AWS SDKs send to the APIs
Flare speaks (none, ``application/json``, ``application/x-amz-json-1.0``/``1.1``,
``application/octet-stream``, ``binary/octet-stream``): the types a page can send without a
preflight (``text/plain``, forms) never pass. An allowed origin gets CORS answers: preflights
are answered here and responses carry ``Access-Control-Allow-Origin`` and the ``x-amz`` headers
exposed, so a page the operator trusts can use the JavaScript SDK.

``BrowserGuard`` decides (pure; ``headers`` must answer lower-case names, as aiohttp's answer
any case); ``guard_requests`` applies it to aiohttp's requests, and the front door's fast path
serves only requests it finds ``plain``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from flare.api import cors
from flare.api.wire import REQUEST_ID_HEADER, error_response
from flare.config import ServerConfig
from flare.errors import AccessDenied, FlareError, UnsupportedMediaType
from flare.ids import new_request_id

SDK_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/x-amz-json-1.0",
        "application/x-amz-json-1.1",
        "application/octet-stream",
        "binary/octet-stream",
    }
)
BROWSER_SITES = ("cross-site", "same-site")
LOCAL_NAMES = frozenset({"localhost"})
EXPOSED = (
    "x-amzn-RequestId",
    "x-amzn-ErrorType",
    "X-Amz-Function-Error",
    "X-Amz-Log-Result",
    "X-Amz-Executed-Version",
)


def host_name(host: str) -> str:
    """``host`` (a ``Host`` header) without its port, lower-case; IPv6 without brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _names_this_server(host: str, host_names: frozenset[str]) -> bool:
    """Cached: a client sends the same ``Host`` on every request (~2 µs saved on each)."""
    name = host_name(host)
    return is_ip(name) or name in LOCAL_NAMES or name in host_names


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


@dataclass(frozen=True)
class BrowserGuard:
    """The operator's choices: origins allowed (``--cors-origin``; ``*`` allows every one) and
    extra host names (``--allowed-host``) this server answers to."""

    origins: tuple[str, ...] = ()
    host_names: frozenset[str] = frozenset()
    cors: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rules = {
            "AllowOrigins": list(self.origins),
            "AllowMethods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
            "ExposeHeaders": list(EXPOSED),
            "MaxAge": 600,
        }
        object.__setattr__(self, "cors", rules)

    @classmethod
    def of(cls, origins: Iterable[str], host_names: Iterable[str], server_host: str) -> BrowserGuard:
        """The guard for these choices; the name the server listens on is allowed too."""
        names = {host_name(name) for name in host_names}
        if not is_ip(host_name(server_host)):
            names.add(host_name(server_host))
        return cls(tuple(origins), frozenset(names))

    @classmethod
    def of_config(cls, config: ServerConfig) -> BrowserGuard:
        return cls.of(config.cors_origins, config.allowed_hosts, config.host)

    def origin_allowed(self, origin: str) -> bool:
        return cors.allowed_origin(self.cors, origin) is not None

    def host_allowed(self, host: str | None) -> bool:
        """No ``Host`` (not a browser), an IP address, ``localhost`` or an allowed name."""
        return not host or _names_this_server(host, self.host_names)

    def refusal(self, headers: Mapping[str, str], has_body: bool) -> FlareError | None:
        """Why a request with these headers is refused (see the module docstring), or None."""
        origin = headers.get("origin")
        if origin is not None:
            if not self.origin_allowed(origin):
                return AccessDenied(
                    f"Requests from web pages are refused: Origin '{origin}' is not allowed "
                    "(allow it with flare serve --cors-origin)."
                )
        elif headers.get("sec-fetch-site") in BROWSER_SITES:
            return AccessDenied("Requests from web pages are refused (Sec-Fetch-Site).")
        host = headers.get("host")
        if not self.host_allowed(host):
            return AccessDenied(
                f"Host '{host}' does not name this server (allow it with flare serve --allowed-host)."
            )
        content_type = headers.get("content-type")
        if has_body and content_type is not None and media_type(content_type) not in SDK_CONTENT_TYPES:
            return UnsupportedMediaType(
                f"Content-Type '{content_type}' is not one the AWS SDKs send: Flare's APIs take "
                f"{', '.join(sorted(SDK_CONTENT_TYPES))} (or none)."
            )
        return None

    def plain(self, headers: Mapping[str, str], has_body: bool) -> bool:
        """Nothing about the request needs this guard's attention: no ``Origin`` or
        ``Sec-Fetch-Site`` at all, and nothing refused. (The front door's fast path serves only
        plain requests and leaves the rest to aiohttp, where ``refusal`` and CORS answer.)"""
        if "origin" in headers or "sec-fetch-site" in headers:
            return False
        return self.refusal(headers, has_body) is None

    def preflight_headers(self, origin: str | None, requested_headers: str | None) -> dict[str, str]:
        """The answer's headers to an allowed origin's preflight: every method the APIs use,
        and the headers it asked for (a ``*`` would not cover ``Authorization``)."""
        headers = cors.preflight_headers(self.cors, origin)
        if headers and requested_headers:
            headers["Access-Control-Allow-Headers"] = requested_headers
        return headers

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """CORS headers for a response to ``origin`` ({} unless it is allowed)."""
        return cors.response_headers(self.cors, origin)


def guard_requests(app: web.Application, guard: BrowserGuard) -> Middleware:
    """The middleware (after function URLs' ``host_routing``, before anything reads the
    request): answer allowed origins' preflights, refuse what ``guard`` refuses; and, on
    ``app``, the CORS headers of responses to allowed origins."""

    @web.middleware
    async def refuse_browsers(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers
        origin = headers.get("Origin")
        if origin is not None and guard.origin_allowed(origin) and cors.is_preflight(request.method, headers):
            answer = guard.preflight_headers(origin, headers.get("Access-Control-Request-Headers"))
            return web.Response(status=200, headers={REQUEST_ID_HEADER: new_request_id(), **answer})
        refused = guard.refusal(headers, request.body_exists)
        if refused is not None:
            return error_response(refused)
        return await handler(request)

    async def add_cors(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and ".lambda-url." not in request.host.lower():  # URLs: their own Cors
            response.headers.update(guard.response_headers(origin))

    app.on_response_prepare.append(add_cors)
    return refuse_browsers
