"""Requests signed with an execution environment's credentials, authorized as its function's
execution role (``iam/``): a middleware after ``scoping.py``'s.

A request whose identity is a function's (``Identity.function``) goes ahead only when IAM's
rules allow it (``Engine.authorizer``: the role's policies, else the default policy, and the
resource's own policy): a Lambda operation as ``iam/actions.for_lambda`` maps it, a JSON service
request (SQS, Kinesis, Logs) as ``for_target`` does, anything else (Flare's own ``/flare/v1``
routes: a function must not manage roles, keys or schedules) as action ``flare:CallApi`` on its
path, which only a policy allowing ``flare:*`` allows. ``Invoke`` and ``InvokeAsync`` are left to
``InvokeRoute``, which the front door's fast path shares (``invoke_check``). Any other caller
passes untouched. A refusal is ``AccessDeniedException`` in AWS's words, in the shape of the
service the request was for.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from flare.api import target
from flare.api.authentication import IDENTITY
from flare.api.request_check import CHECKED
from flare.api.wire import Handler, error_response, read_json
from flare.auth.identity import FunctionPrincipal, Identity
from flare.errors import AccessDenied, FlareError
from flare.iam import actions
from flare.iam.authorize import Authorizer, Caller

FLARE_ACTION = "flare:CallApi"
_INVOKE_ROUTE = frozenset({"Invoke", "InvokeAsync"})  # authorized by InvokeRoute (invoke_check)


def caller_of(principal: FunctionPrincipal) -> Caller:
    return Caller(principal.account, principal.region, principal.function_name, principal.role_arn)


async def requested(request: web.Request, identity: Identity) -> actions.Authorization | None:
    """What ``request`` must be allowed (None: nothing here, Invoke's route decides)."""
    checked = request.get(CHECKED)
    if checked is not None:
        operation, params = checked
        if operation.name in _INVOKE_ROUTE:
            return None
        return actions.for_lambda(operation.name, params, identity.scope)
    if target.endpoint_of(request) is not None:
        prefix, _, operation = request.headers.get("X-Amz-Target", "").partition(".")
        try:
            body = await read_json(request)
        except FlareError:
            return None  # the service answers the malformed body itself
        return actions.for_target(prefix, operation, body, identity.scope)
    return actions.Authorization(FLARE_ACTION, (request.path,))


def authorization(authorizer: Authorizer) -> Middleware:
    """The middleware (see the module docstring)."""

    @web.middleware
    async def authorized(request: web.Request, handler: Handler) -> web.StreamResponse:
        identity: Identity | None = request.get(IDENTITY)
        if identity is None or identity.function is None:
            return await handler(request)
        try:
            wanted = await requested(request, identity)
            if wanted is not None:
                authorizer.authorize(caller_of(identity.function), wanted)
        except AccessDenied as error:
            return target.denied_error(request, error) or error_response(error)
        except FlareError as error:
            return error_response(error)
        return await handler(request)

    return authorized


def invoke_check(authorizer: Authorizer) -> Callable[[Identity, str, str | None], None]:
    """What ``InvokeRoute`` calls before an invoke: raise AccessDenied unless the caller (when a
    function) may invoke ``name`` (``qualifier``)."""

    def check(identity: Identity, name: str, qualifier: str | None) -> None:
        if identity.function is not None:
            params = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
            authorizer.authorize(
                caller_of(identity.function), actions.for_lambda("Invoke", params, identity.scope)
            )

    return check
