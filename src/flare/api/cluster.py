"""``GET /flare/v1/cluster``: the cluster this node belongs to (no AWS equivalent; what
``flare cluster status`` reads). Served only by ``flare serve --cluster``; signed like every
Flare route. Answers ``{"Node": this node, "TtlSeconds", "Sees": [the nodes it routes among,
as of its last beat], "Nodes": [{"Name", "Url",
"AccountShare", "MemoryMB", "MaxEnvironments", "Environments", "Busy", "LastBeatSecondsAgo"}]}``,
read from Redis now (a node dead for longer than the TTL is no longer listed). Redis not
answering is a ServiceException.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from flare.api.wire import aws_route, json_response
from flare.errors import ServiceException

if TYPE_CHECKING:
    from flare.cluster.node import ClusterNode

PATH = "/flare/v1/cluster"


def add_routes(app: web.Application, node: ClusterNode) -> None:
    import redis  # only with --cluster, where redis-py is installed

    @aws_route
    async def status(request: web.Request) -> web.StreamResponse:
        try:
            answer = await node.status()
        except (redis.RedisError, OSError) as error:  # Redis away
            raise ServiceException(f"the cluster's Redis did not answer: {error}") from None
        return json_response(answer)

    app.router.add_get(PATH, status)
