"""``POST /flare/v1/cluster/logs``: another node of the cluster asks this one its part of a
CloudWatch Logs call (``cluster/log_parts.py``, asked by ``cluster/log_peers.py``). Served only
by ``flare serve --cluster``.

Node to node only: the request carries no SigV4 signature but the cluster's token in
``x-flare-cluster-token`` (``api/authentication.py`` lets it through unsigned for that), and
one without the right token is refused (AccessDenied, 403). The body is ``{"Account",
"Region", "Part", "Args"}``; the answer is the part's JSON. An unknown part or a malformed body
is a 400 (``InvalidRequestContent``); the part's own rule errors leave in Lambda's error shape
(the asking node answered its own part first, so it has already told its client).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from aiohttp import web

from flare.api.wire import aws_route, json_response, read_json
from flare.cluster import log_parts
from flare.cluster.forwarding import TOKEN_HEADER
from flare.errors import AccessDenied, InvalidRequestContent
from flare.scope import Scope
from flare.services.logs import LogService


def add_routes(
    app: web.Application, token: Callable[[], str], logs_of: Callable[[Scope], LogService]
) -> None:
    """``token()``: the cluster's token now; ``logs_of(scope)``: that scope's log service here."""

    @aws_route
    async def answer(request: web.Request) -> web.StreamResponse:
        given = request.headers.get(TOKEN_HEADER, "")
        if not given or not hmac.compare_digest(given.encode(), token().encode()):
            raise AccessDenied("A logs call between nodes without this cluster's token.")
        body = await read_json(request)
        scope, part, args = _parsed(body)
        return json_response(log_parts.answer(logs_of(scope), part, args))

    app.router.add_post(log_parts.PATH, answer)


def _parsed(body: dict[str, Any]) -> tuple[Scope, str, dict[str, Any]]:
    account, region, part, args = (body.get(key) for key in ("Account", "Region", "Part", "Args"))
    if not (isinstance(account, str) and isinstance(region, str) and isinstance(args, dict)):
        raise InvalidRequestContent("Account, Region and Args are required.")
    if part not in log_parts.PARTS:
        raise InvalidRequestContent(f"No such part of a logs call: {part}")
    return Scope(account, region), str(part), args
