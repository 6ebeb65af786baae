"""HTTP routes of function URL configs.

``POST   /2021-10-31/functions/{name}/url?Qualifier=Q``   CreateFunctionUrlConfig (201)
``GET    /2021-10-31/functions/{name}/url?Qualifier=Q``   GetFunctionUrlConfig (200)
``PUT    /2021-10-31/functions/{name}/url?Qualifier=Q``   UpdateFunctionUrlConfig (200)
``DELETE /2021-10-31/functions/{name}/url?Qualifier=Q``   DeleteFunctionUrlConfig (204)
``GET    /2021-10-31/functions/{name}/urls``              ListFunctionUrlConfigs (200)

Translation only: each handler calls ``FunctionUrls`` and answers with what it returns. The
URLs themselves are served by ``function_url``.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, query_int, read_json
from flare.control.urls import FunctionUrls

PATH = "/2021-10-31/functions/{name}/url"
_URLS: web.AppKey[Of[FunctionUrls]] = web.AppKey("function_urls")


def _urls(request: web.Request) -> FunctionUrls:
    return request.app[_URLS](request)


def _qualifier(request: web.Request) -> str | None:
    return request.query.get("Qualifier") or None


@aws_route
async def create_config(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    answer = _urls(request).create(request.match_info["name"], _qualifier(request), body)
    return json_response(answer, status=201)


@aws_route
async def get_config(request: web.Request) -> web.StreamResponse:
    return json_response(_urls(request).get(request.match_info["name"], _qualifier(request)))


@aws_route
async def update_config(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    return json_response(_urls(request).update(request.match_info["name"], _qualifier(request), body))


@aws_route
async def delete_config(request: web.Request) -> web.StreamResponse:
    _urls(request).delete(request.match_info["name"], _qualifier(request))
    return empty_response(204)


@aws_route
async def list_configs(request: web.Request) -> web.StreamResponse:
    marker = request.query.get("Marker") or None
    answer = _urls(request).list(request.match_info["name"], marker, query_int(request, "MaxItems"))
    return json_response(answer)


def add_routes(app: web.Application, urls: Of[FunctionUrls]) -> None:
    """Register the function URL config routes on ``app``, served by ``urls``."""
    app[_URLS] = urls
    app.router.add_post(PATH, create_config)
    app.router.add_get(PATH, get_config)
    app.router.add_put(PATH, update_config)
    app.router.add_delete(PATH, delete_config)
    app.router.add_get(PATH + "s", list_configs)
