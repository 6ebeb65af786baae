"""Which account and region each API request acts in, found once per request.

A middleware (after the model check) decides the request's ``AccountRegion``: the caller's
scope, as its authenticated identity names it (``api/authentication.py``), or, for a function
operation that names another account's function by ARN, that account's when its policy allows it
(``Engine.region_for_function``); another account's or region's resource named by ARN is
refused (``cross_account.check_own``). Routes reach the control-plane objects they serve through
accessors (``Of[Registry]`` and the like) that read them from there, so one set of routes serves
every account and region; which objects a route needs is still said where it is registered
(``api/app.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from flare.account_region import AccountRegion
from flare.api.authentication import identity_of
from flare.api.request_check import CHECKED
from flare.api.wire import Handler, error_response
from flare.control import cross_account
from flare.engine import Engine
from flare.errors import FlareError

T = TypeVar("T")
Of = Callable[[web.Request], T]
"""How a route reaches what it serves: from the request, the object of the request's scope."""

REGION: web.RequestKey[AccountRegion] = web.RequestKey("flare.account_region")


def region_of(request: web.Request) -> AccountRegion:
    """The ``AccountRegion`` the request acts in (put there by ``scope_routing``)."""
    region: AccountRegion = request[REGION]
    return region


def decide_region(engine: Engine, request: web.Request) -> AccountRegion:
    """See the module docstring. Raises ResourceNotFound or AccessDenied."""
    who = identity_of(request)
    caller = who.scope
    checked = request.get(CHECKED)
    if checked is not None:
        operation, params = checked
        for member in cross_account.RESOURCE_ARN_MEMBERS:
            arn = params.get(member)
            if isinstance(arn, str):
                cross_account.check_own(caller, operation.name, arn)
        function_name = params.get("FunctionName")
        if isinstance(function_name, str):
            qualifier = params.get("Qualifier")
            return engine.region_for_function(
                who, operation.name, function_name, qualifier if isinstance(qualifier, str) else None
            )
    return engine.region(caller)


def scope_routing(engine: Engine) -> Middleware:
    """The middleware (see the module docstring)."""

    @web.middleware
    async def route_by_scope(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            request[REGION] = decide_region(engine, request)
        except FlareError as error:
            return error_response(error)
        return await handler(request)

    return route_by_scope
