"""HTTP routes of the function resource (create, read, list, update, delete).

Each handler only translates: path, query and JSON body in, a ``Registry`` call, JSON out.
``{name}`` arrives URL-decoded and may be a full or partial ARN (it contains colons, never ``/``).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, query_int, read_json
from flare.control.code_url import CodeUrls
from flare.control.registry import Registry

PREFIX = "/2015-03-31/functions"
_CODE_URLS = web.AppKey("code_urls", CodeUrls)
Reserved = Callable[[str], "int | None"]
_REGISTRY: web.AppKey[Of[Registry]] = web.AppKey("function_registry")
_RESERVED: web.AppKey[Of[Reserved]] = web.AppKey("reserved")


def _registry(request: web.Request) -> Registry:
    return request.app[_REGISTRY](request)


def _qualifier(request: web.Request) -> str | None:
    return request.query.get("Qualifier") or None


@aws_route
async def create_function(request: web.Request) -> web.StreamResponse:
    return json_response(_registry(request).create_function(await read_json(request)), status=201)


@aws_route
async def get_function(request: web.Request) -> web.StreamResponse:
    urls, base = request.app[_CODE_URLS], f"{request.scheme}://{request.host}"
    body = _registry(request).get_function(
        request.match_info["name"], _qualifier(request), lambda digest: urls.url(base, digest)
    )
    reserved = request.app[_RESERVED](request)(body["Configuration"]["FunctionName"])
    if reserved is not None:
        body["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
    return json_response(body)


@aws_route
async def get_configuration(request: web.Request) -> web.StreamResponse:
    registry = _registry(request)
    return json_response(registry.get_configuration(request.match_info["name"], _qualifier(request)))


@aws_route
async def list_functions(request: web.Request) -> web.StreamResponse:
    body = _registry(request).list_functions(
        marker=request.query.get("Marker") or None,
        max_items=query_int(request, "MaxItems"),
        function_version=request.query.get("FunctionVersion") or None,
    )
    return json_response(body)


@aws_route
async def update_code(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    return json_response(_registry(request).update_code(request.match_info["name"], body))


@aws_route
async def update_configuration(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    return json_response(_registry(request).update_configuration(request.match_info["name"], body))


@aws_route
async def delete_function(request: web.Request) -> web.StreamResponse:
    _registry(request).delete_function(request.match_info["name"], _qualifier(request))
    return empty_response(204)


def add_routes(
    app: web.Application,
    registry: Of[Registry],
    code_urls: CodeUrls,
    reserved: Of[Reserved] = lambda request: lambda name: None,
) -> None:
    """Register the function resource's routes on ``app``, served by the request's
    ``registry``; GetFunction shows ``reserved(request)(name)`` as its ``Concurrency`` when there
    is a reservation, and a ``code_urls`` URL as its ``Code.Location``."""
    app[_REGISTRY] = registry
    app[_CODE_URLS] = code_urls
    app[_RESERVED] = reserved
    app.router.add_post(PREFIX, create_function)
    app.router.add_post(PREFIX + "/", create_function)
    app.router.add_get(PREFIX, list_functions)
    app.router.add_get(PREFIX + "/", list_functions)
    app.router.add_get(PREFIX + "/{name}", get_function)
    app.router.add_delete(PREFIX + "/{name}", delete_function)
    app.router.add_get(PREFIX + "/{name}/configuration", get_configuration)
    app.router.add_put(PREFIX + "/{name}/configuration", update_configuration)
    app.router.add_put(PREFIX + "/{name}/code", update_code)
