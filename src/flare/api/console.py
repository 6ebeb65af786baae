"""The live console's routes, under ``/_flare/`` (see ``console/`` for what it shows).

Getting in (``console/session.py``)::

    POST /flare/v1/console/login     signed, as every Flare route: a one-time login URL
    GET  /_flare/login?token=T       spends T, sets the session cookie, redirects to /_flare/

Then, with the session cookie (``flare_console``: HttpOnly, SameSite=Strict, Path=/_flare)::

    GET /_flare/                     the page (server-rendered)
    GET /_flare/panels/{name}        one panel again (functions, sources), for its refresh
    GET /_flare/events               the live feed as server-sent events (``api/live.py``)
    GET /_flare/logs?function=F&offset=N   the function's log since N (``api/logs.py``'s)
    GET /_flare/assets/{name}        console.js, console.css (package files)

Without a live session every ``/_flare/`` route but the login answers 401 with a page that
says how to get in. Every answer forbids caching, framing and any request off this server
(``Content-Security-Policy``). A connection an execution environment opened (its origin,
``auth/connection_origin.py``) is refused outright, and so is a function's role session asking
for a login URL: the console is the operator's. ``/_flare/`` cannot collide with Lambda's
routes (they begin with a date) nor with a function URL (those are routed by ``Host`` before
any of this).

``--auth open``: the login URL is as open as the rest of the API there (any well-formed
signature gets one), but it still takes a signed request, which no web page can send, so a
page the developer visits can neither read the console nor obtain a session.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Awaitable, Callable

from aiohttp import web

from flare.api import live, logs
from flare.api.authentication import identity_of
from flare.api.wire import error_response, json_response, query_int
from flare.auth.connection_origin import ConnectionOrigins
from flare.console import page, view
from flare.console.session import LOGIN_URL_PATH, SESSION_TTL_S, TOKEN_TTL_S, ConsoleSessions
from flare.engine import Engine
from flare.errors import AccessDenied, FlareError, ServiceException
from flare.scope import Scope

PREFIX = "/_flare"
COOKIE = "flare_console"
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

SessionHandler = Callable[[web.Request, Scope], Awaitable[web.StreamResponse]]


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", headers=SECURITY_HEADERS)


class ConsoleRoutes:
    """The routes (see the module docstring) over ``engine``'s regions and feed."""

    def __init__(self, engine: Engine, sessions: ConsoleSessions) -> None:
        self._engine = engine
        self._sessions = sessions
        self._origins: ConnectionOrigins | None = engine.connection_origins

    def _from_sandbox(self, request: web.Request) -> bool:
        if self._origins is None:
            return False
        try:
            return self._origins.of(request.transport) is not None
        except ServiceException:
            return True  # not known to be from outside: refused

    def gated(self, handler: SessionHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """``handler`` for a request with a live session from outside every sandbox, with the
        session's scope; else the sign-in page (401) or 403."""

        async def gate(request: web.Request) -> web.StreamResponse:
            if self._from_sandbox(request):
                return _html(page.sign_in_page("The console cannot be opened from a function."), 403)
            scope = self._sessions.find(request.cookies.get(COOKIE))
            if scope is None:
                return _html(page.sign_in_page("You are not signed in to this Flare."), 401)
            return await handler(request, scope)

        return gate

    async def login_url(self, request: web.Request) -> web.StreamResponse:
        who = identity_of(request)
        try:
            if who.function is not None or self._from_sandbox(request):
                raise AccessDenied("A function cannot open the console: it is the operator's")
        except FlareError as error:
            return error_response(error)
        token = self._sessions.issue(who.scope)
        url = f"{request.scheme}://{request.host}{PREFIX}/login?token={token}"
        return json_response({"LoginUrl": url, "ExpiresInSeconds": int(TOKEN_TTL_S)})

    async def login(self, request: web.Request) -> web.StreamResponse:
        if self._from_sandbox(request):
            return _html(page.sign_in_page("The console cannot be opened from a function."), 403)
        session = self._sessions.redeem(request.query.get("token", ""))
        if session is None:
            return _html(page.sign_in_page("This login link was used already, or has expired."), 401)
        response = web.HTTPSeeOther(f"{PREFIX}/", headers=SECURITY_HEADERS)
        response.set_cookie(
            COOKIE, session, path=PREFIX, max_age=int(SESSION_TTL_S), httponly=True, samesite="Strict"
        )
        return response

    async def home(self, request: web.Request, scope: Scope) -> web.StreamResponse:
        return _html(page.console_page(view.gather(self._engine.region(scope))))

    async def panel(self, request: web.Request, scope: Scope) -> web.StreamResponse:
        panels = {"functions": page.functions_panel, "sources": page.sources_panel}
        render = panels.get(request.match_info["name"])
        if render is None:
            return _html("", 404)
        return _html(render(view.gather(self._engine.region(scope))))

    async def events(self, request: web.Request, scope: Scope) -> web.StreamResponse:
        return await live.stream(request, self._engine.feed, self._engine.clock, scope)

    async def log(self, request: web.Request, scope: Scope) -> web.StreamResponse:
        region = self._engine.region(scope)
        try:
            offset = query_int(request, "offset") or 0
            name = request.query.get("function", "")
            body = logs.read_since(region.registry, region.log_service, name, offset)
        except FlareError as error:
            return error_response(error)
        response = json_response(body)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def asset(self, request: web.Request, scope: Scope) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ASSETS:
            return _html("", 404)
        data = importlib.resources.files("flare.console").joinpath("assets", name).read_bytes()
        return web.Response(body=data, content_type=ASSETS[name], headers=SECURITY_HEADERS)


def add_routes(app: web.Application, engine: Engine) -> None:
    routes = ConsoleRoutes(engine, ConsoleSessions(engine.clock))
    app.router.add_post(LOGIN_URL_PATH, routes.login_url)
    app.router.add_get(f"{PREFIX}/login", routes.login)
    app.router.add_get(f"{PREFIX}/", routes.gated(routes.home))
    app.router.add_get(PREFIX, routes.gated(routes.home))
    app.router.add_get(f"{PREFIX}/panels/{{name}}", routes.gated(routes.panel))
    app.router.add_get(f"{PREFIX}/events", routes.gated(routes.events))
    app.router.add_get(f"{PREFIX}/logs", routes.gated(routes.log))
    app.router.add_get(f"{PREFIX}/assets/{{name}}", routes.gated(routes.asset))
