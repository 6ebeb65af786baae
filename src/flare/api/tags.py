"""HTTP routes of tags.

``POST   /2017-03-31/tags/{arn}``                TagResource (204)
``GET    /2017-03-31/tags/{arn}``                ListTags (200)
``DELETE /2017-03-31/tags/{arn}?tagKeys=k&...``  UntagResource (204)

Translation only: each handler calls ``Tagging`` and answers with what it returns.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, read_json
from flare.control.tags import Tagging

PATH = "/2017-03-31/tags/{arn:.+}"


def add_routes(app: web.Application, tagging_of: Of[Tagging]) -> None:
    """Register the tag routes on ``app``, served by the request's ``tagging``."""

    @aws_route
    async def tag_resource(request: web.Request) -> web.StreamResponse:
        tagging_of(request).tag(request.match_info["arn"], await read_json(request))
        return empty_response(204)

    @aws_route
    async def list_tags(request: web.Request) -> web.StreamResponse:
        return json_response(tagging_of(request).list_tags(request.match_info["arn"]))

    @aws_route
    async def untag_resource(request: web.Request) -> web.StreamResponse:
        tagging_of(request).untag(request.match_info["arn"], request.query.getall("tagKeys", []))
        return empty_response(204)

    app.router.add_post(PATH, tag_resource)
    app.router.add_get(PATH, list_tags)
    app.router.add_delete(PATH, untag_resource)
