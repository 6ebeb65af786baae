"""HTTP routes of reserved concurrency and the account's settings.

``PUT /2017-10-31/functions/{name}/concurrency``     PutFunctionConcurrency (200)
``GET /2019-09-30/functions/{name}/concurrency``     GetFunctionConcurrency (200, ``{}`` if unset)
``DELETE /2017-10-31/functions/{name}/concurrency``  DeleteFunctionConcurrency (204)
``GET /2016-08-19/account-settings``                 GetAccountSettings (200)

Translation only: each handler calls ``Concurrency`` and answers with what it returns.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, read_json
from flare.control.concurrency import Concurrency

_CONCURRENCY: web.AppKey[Of[Concurrency]] = web.AppKey("concurrency")


def _concurrency(request: web.Request) -> Concurrency:
    return request.app[_CONCURRENCY](request)


@aws_route
async def put_function_concurrency(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    return json_response(_concurrency(request).put(request.match_info["name"], body))


@aws_route
async def get_function_concurrency(request: web.Request) -> web.StreamResponse:
    return json_response(_concurrency(request).get(request.match_info["name"]))


@aws_route
async def delete_function_concurrency(request: web.Request) -> web.StreamResponse:
    _concurrency(request).delete(request.match_info["name"])
    return empty_response(204)


@aws_route
async def get_account_settings(request: web.Request) -> web.StreamResponse:
    return json_response(_concurrency(request).account_settings())


def add_routes(app: web.Application, concurrency: Of[Concurrency]) -> None:
    """Register the concurrency and account-settings routes on ``app``, served by ``concurrency``."""
    app[_CONCURRENCY] = concurrency
    app.router.add_put("/2017-10-31/functions/{name}/concurrency", put_function_concurrency)
    app.router.add_get("/2019-09-30/functions/{name}/concurrency", get_function_concurrency)
    app.router.add_delete("/2017-10-31/functions/{name}/concurrency", delete_function_concurrency)
    app.router.add_get("/2016-08-19/account-settings", get_account_settings)
