"""HTTP routes of layers (``/2018-10-31/layers``).

Each handler only translates: path, query and JSON body in, a ``Layers`` call, JSON out.
``{layer}`` arrives URL-decoded and may be a layer ARN. ``GET /2018-10-31/layers`` is two
operations, as in the service model: ``?find=LayerVersion&Arn=...`` is GetLayerVersionByArn,
anything else ListLayers. ``Content.Location`` links are made for the host the client called
(``control/code_url.py``) and served by ``api/code.py``, as GetFunction's ``Code.Location``.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, query_int, read_json
from flare.control.code_url import CodeUrls
from flare.control.layer_listing import Locate
from flare.control.layers import Layers
from flare.errors import InvalidParameterValue

LAYERS = "/2018-10-31/layers"
VERSIONS = LAYERS + "/{layer}/versions"
VERSION = VERSIONS + "/{version}"
_LAYERS: web.AppKey[Of[Layers]] = web.AppKey("layers")
_LINKS = web.AppKey("code_urls", CodeUrls)


def _layers(request: web.Request) -> Layers:
    return request.app[_LAYERS](request)


def _locate(request: web.Request) -> Locate:
    base_url = f"{request.scheme}://{request.host}"
    links = request.app[_LINKS]
    return lambda digest: links.url(base_url, digest)


def _version(request: web.Request) -> int:
    raw = request.match_info["version"]
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameterValue(f"Invalid layer version number: {raw}") from None


@aws_route
async def publish(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    return json_response(_layers(request).publish(request.match_info["layer"], body, _locate(request)), 201)


@aws_route
async def get_version(request: web.Request) -> web.StreamResponse:
    answer = _layers(request).get(request.match_info["layer"], _version(request), _locate(request))
    return json_response(answer)


@aws_route
async def list_or_find(request: web.Request) -> web.StreamResponse:
    query = request.query
    if query.get("find") == "LayerVersion":
        return json_response(_layers(request).get_by_arn(query.get("Arn", ""), _locate(request)))
    answer = _layers(request).list_layers(
        query.get("CompatibleRuntime") or None,
        query.get("CompatibleArchitecture") or None,
        query.get("Marker") or None,
        query_int(request, "MaxItems"),
    )
    return json_response(answer)


@aws_route
async def list_versions(request: web.Request) -> web.StreamResponse:
    query = request.query
    answer = _layers(request).list_versions(
        request.match_info["layer"],
        query.get("CompatibleRuntime") or None,
        query.get("CompatibleArchitecture") or None,
        query.get("Marker") or None,
        query_int(request, "MaxItems"),
    )
    return json_response(answer)


@aws_route
async def delete_version(request: web.Request) -> web.StreamResponse:
    _layers(request).delete(request.match_info["layer"], _version(request))
    return empty_response(204)


@aws_route
async def add_permission(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    revision = request.query.get("RevisionId") or None
    answer = _layers(request).add_permission(request.match_info["layer"], _version(request), body, revision)
    return json_response(answer, 201)


@aws_route
async def remove_permission(request: web.Request) -> web.StreamResponse:
    revision = request.query.get("RevisionId") or None
    layer, version, sid = request.match_info["layer"], _version(request), request.match_info["sid"]
    _layers(request).remove_permission(layer, version, sid, revision)
    return empty_response(204)


@aws_route
async def get_policy(request: web.Request) -> web.StreamResponse:
    return json_response(_layers(request).get_policy(request.match_info["layer"], _version(request)))


def add_routes(app: web.Application, layers: Of[Layers], links: CodeUrls) -> None:
    """Register the layer routes, served by ``layers``; ``Content.Location`` is a ``links`` URL."""
    app[_LAYERS] = layers
    app[_LINKS] = links
    app.router.add_get(LAYERS, list_or_find)
    app.router.add_get(LAYERS + "/", list_or_find)
    app.router.add_post(VERSIONS, publish)
    app.router.add_get(VERSIONS, list_versions)
    app.router.add_get(VERSION, get_version)
    app.router.add_delete(VERSION, delete_version)
    app.router.add_post(VERSION + "/policy", add_permission)
    app.router.add_get(VERSION + "/policy", get_policy)
    app.router.add_delete(VERSION + "/policy/{sid}", remove_permission)
