"""The HTTP front door: one aiohttp application serving the Lambda API and Flare's own routes."""

from __future__ import annotations

from aiohttp import web

from flare.api import (
    aliases,
    capacity_providers,
    code,
    code_signing,
    concurrency,
    durable_executions,
    esm,
    event_invoke_config,
    function_settings,
    function_url,
    functions,
    invoke,
    kinesis,
    layers,
    logs,
    logs_service,
    metrics,
    permissions,
    provisioned_concurrency,
    schedules,
    sqs,
    stream_invoke,
    tags,
    target,
    urls,
    versions,
)
from flare.api.request_check import check_request
from flare.api.wire import aws_route
from flare.engine import Engine
from flare.errors import UnknownOperation

# A base64 zip of 50 MB plus its JSON envelope.
MAX_REQUEST_BYTES = 80 * 1024 * 1024


def invoke_route(engine: Engine) -> invoke.InvokeRoute:
    """The one Invoke implementation (the front door's fast path and aiohttp share it)."""
    return invoke.InvokeRoute(engine.registry, engine.router, engine.clock, engine.async_queue)


def build_app(engine: Engine, route: invoke.InvokeRoute | None = None) -> web.Application:
    config = engine.config
    door = function_url.FunctionUrlDoor(
        engine.function_urls, engine.router, engine.clock, config.account_id, config.port
    )
    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        handler_args={"access_log": None},
        # function URLs first, by Host; then every Lambda API request checked against the model
        middlewares=[function_url.host_routing(door), check_request],
    )
    functions.add_routes(app, engine.registry, engine.code_urls, engine.concurrency.reserved)
    code.add_routes(app, engine.code_urls, engine.blobs)
    versions.add_routes(app, engine.registry)
    aliases.add_routes(app, engine.registry)
    layers.add_routes(app, engine.layers, engine.code_urls)
    invoke.add_routes(app, route or invoke_route(engine))
    stream_invoke.add_routes(
        app, stream_invoke.StreamInvokeRoute(engine.registry, engine.router, engine.clock)
    )
    logs.add_routes(app, engine.registry, engine.log_service)
    metrics.add_routes(app, engine.metrics)
    concurrency.add_routes(app, engine.concurrency)
    provisioned_concurrency.add_routes(app, engine.provisioned)
    schedules.add_routes(app, engine.schedules)
    event_invoke_config.add_routes(app, engine.invoke_configs)
    esm.add_routes(app, engine.mappings, engine.async_queue)
    permissions.add_routes(app, engine.policies)
    tags.add_routes(app, engine.tagging)
    code_signing.add_routes(app, engine.code_signing)
    function_settings.add_routes(app, engine.function_settings)
    capacity_providers.add_routes(app, engine.capacity_providers)
    durable_executions.add_routes(app, engine.registry)
    urls.add_routes(app, engine.function_urls)
    target.add_routes(
        app,
        sqs.endpoint(engine.queues),
        kinesis.endpoint(engine.streams),
        logs_service.endpoint(engine.log_service, engine.live_tails),
    )

    @aws_route
    async def unknown(request: web.Request) -> web.StreamResponse:
        raise UnknownOperation(f"Flare does not implement {request.method} {request.path}")

    app.router.add_route("*", "/{tail:.*}", unknown)
    return app
