"""Every API request authenticated before it is checked or routed (``flare.auth``).

A middleware after function URLs (which follow their own ``AuthType``) and the browser guard,
before anything else reads the request: it asks the engine's ``Authenticator`` who the request
is (and, by its connection's origin, whether one of the engine's execution environments sent
it: ``auth/connection_origin.py``), reading the body first when the signature must be checked
against it, and leaves the
``Identity`` on the request (``identity_of``) for what runs after it (the account and region it
acts in: ``scoping.py``; its IAM decision: ``authorization.py``). A request that fails is
answered here, in its service's error shape: the JSON services' (``target.auth_error``), else
Lambda's. The front door's fast path calls the same authenticator for the invokes it serves.

Unsigned requests pass only where AWS's would, or where no AWS client calls: ``GET /metrics``
(Prometheus scrapers), Flare's self-signed code links (``/_flare/code/…``, which check their
own signature), the console's pages (``/_flare/…``, which check their own session cookie:
``api/console.py``) and one node of a cluster asking another its part of a logs call
(``POST /flare/v1/cluster/logs``, which checks the cluster's token: ``api/node_logs.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.typedefs import Middleware

from flare.api import target
from flare.api.wire import Handler, error_response
from flare.auth.authenticator import Authenticator, Unverified
from flare.auth.connection_origin import ConnectionOrigins
from flare.auth.identity import Identity
from flare.cluster.log_parts import PATH as NODE_LOGS_PATH
from flare.control.code_url import PATH_PREFIX as CODE_PREFIX
from flare.errors import AuthenticationFailed, ServiceException

IDENTITY: web.RequestKey[Identity] = web.RequestKey("flare.identity")
CONSOLE_PREFIX = "/_flare"
_NO_QUERY: Mapping[str, str] = {}
LAMBDA = "lambda"
"""The SigV4 service of the Lambda API, and of Flare's own routes."""


def identity_of(request: web.Request) -> Identity:
    """Who sent ``request`` (put there by ``authentication``)."""
    identity: Identity = request[IDENTITY]
    return identity


def unsigned_allowed(request: web.Request, cluster: bool = False) -> bool:
    """Whether ``request`` may come unsigned (see the module docstring); ``cluster``: this
    node is one of a cluster's, so other nodes call it."""
    if request.method == "POST":
        return cluster and request.path == NODE_LOGS_PATH
    if request.method not in ("GET", "HEAD"):
        return False
    path = request.path
    return path == "/metrics" or path.startswith(CODE_PREFIX) or path.startswith(CONSOLE_PREFIX)


def signed_headers_view(request: web.Request) -> dict[str, str]:
    """The request's headers by lower-case name, a repeated header's values joined with ``,``
    (as a signer sees them)."""
    view: dict[str, str] = {}
    for name, value in request.headers.items():
        lower = name.lower()
        view[lower] = f"{view[lower]},{value}" if lower in view else value
    return view


async def authenticate(
    authenticator: Authenticator, request: web.Request, service: str, origin: int | None = None
) -> Identity:
    """Who ``request`` is, its signature checked (reading its body) when the mode or its key
    asks for it; ``origin``: the sandbox uid that opened its connection, if any. Raises
    AuthenticationFailed."""
    found = authenticator.identify(request.headers, request.query, service, origin)
    if isinstance(found, Unverified):
        body = await request.read()
        path, _, query = request.raw_path.partition("?")
        found = authenticator.verify(found, request.method, path, query, signed_headers_view(request), body)
    return found


def authenticate_parts(
    authenticator: Authenticator,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    origin: int | None = None,
) -> Identity:
    """Who a Lambda API request the front door parsed is: ``path`` and ``query`` raw (``query``
    without ``?``), ``headers`` by lower-case name, the whole ``body``, ``origin`` as for
    ``authenticate``. Raises AuthenticationFailed."""
    found = authenticator.identify(headers, _query_view(query), LAMBDA, origin)
    if isinstance(found, Unverified):
        found = authenticator.verify(found, method, path, query, headers, body)
    return found


def _query_view(query: str) -> Mapping[str, str]:
    """A raw query's parameters (decoded), or an empty view when there is none (an invoke's
    usual case)."""
    if not query:
        return _NO_QUERY
    return dict(parse_qsl(query, keep_blank_values=True))


def authentication(
    authenticator: Authenticator, origins: ConnectionOrigins | None = None, cluster: bool = False
) -> Middleware:
    """The middleware (see the module docstring); ``origins``: which environment opened each
    connection (None: environments have no uids of their own); ``cluster``: other nodes of a
    cluster call this one (``flare serve --cluster``)."""
    anonymous = Identity("", authenticator.default_scope)  # who the unsigned routes serve

    @web.middleware
    async def authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
        if unsigned_allowed(request, cluster):
            request[IDENTITY] = anonymous
            return await handler(request)
        try:
            origin = origins.of(request.transport) if origins is not None else None
            request[IDENTITY] = await authenticate(
                authenticator, request, target.signing_service(request) or LAMBDA, origin
            )
        except AuthenticationFailed as error:
            return target.auth_error(request, error) or error_response(error)
        except ServiceException as error:  # the connection's origin could not be asked
            return error_response(error)
        return await handler(request)

    return authenticated
