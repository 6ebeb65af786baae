"""``GET /metrics``: Prometheus text (see ``observe/metrics.py``)."""

from __future__ import annotations

from aiohttp import web

from flare.observe.metrics import Metrics


def add_routes(app: web.Application, metrics: Metrics) -> None:
    async def render(request: web.Request) -> web.StreamResponse:
        return web.Response(text=metrics.render(), content_type="text/plain", charset="utf-8")

    app.router.add_get("/metrics", render)
