"""The HTTP front door: one aiohttp application serving the Lambda API and Flare's own routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from flare.account_region import AccountRegion
from flare.api import (
    aliases,
    authentication,
    authorization,
    browser_guard,
    capacity_providers,
    clock_control,
    cluster,
    code,
    code_signing,
    concurrency,
    console,
    durable_executions,
    esm,
    event_invoke_config,
    function_settings,
    function_url,
    functions,
    http_errors,
    invoke,
    kinesis,
    layers,
    live,
    logs,
    logs_service,
    metrics,
    permissions,
    provisioned_concurrency,
    roles,
    schedules,
    scoping,
    sqs,
    stream_invoke,
    tags,
    target,
    urls,
    versions,
)
from flare.api.request_check import check_request
from flare.api.wire import aws_route
from flare.auth.identity import Identity
from flare.clock import JumpClock
from flare.engine import Engine
from flare.errors import UnknownOperation

if TYPE_CHECKING:
    from flare.cluster.cluster_logs import ClusterLogs

# A base64 zip of 50 MB plus its JSON envelope.
MAX_REQUEST_BYTES = 80 * 1024 * 1024


def _close_all(engine: Engine, close: Callable[[AccountRegion], None]) -> Callable[[], None]:
    """``close`` (long polls, live tails) in every account and region: at shutdown, before
    in-flight requests are awaited."""

    def close_all() -> None:
        for region in engine.regions():
            close(region)

    return close_all


def invoke_route(engine: Engine) -> invoke.InvokeRoute:
    """The one Invoke implementation (the front door's fast path and aiohttp share it)."""

    def find_region(caller: Identity, name: str, qualifier: str | None) -> AccountRegion:
        return engine.region_for_function(caller, "Invoke", name, qualifier)

    authorize = authorization.invoke_check(engine.authorizer)
    if engine.cluster_node is not None:  # an invoke runs on the node routing chooses
        from flare.cluster.forwarding import ForwardingInvokeRoute

        node = engine.cluster_node
        return ForwardingInvokeRoute(find_region, engine.clock, authorize, node.membership, node.forwarder)
    return invoke.InvokeRoute(find_region, engine.clock, authorize)


def cluster_logs(engine: Engine) -> scoping.Of[ClusterLogs] | None:
    """With ``--cluster``: each request's scope's logs on every node (logs calls span the
    cluster); None on one node."""
    if engine.cluster_node is None:
        return None
    from flare.cluster.cluster_logs import ClusterLogs

    peers, retention = engine.cluster_node.log_peers, engine.cluster_node.log_retention

    def of(request: web.Request) -> ClusterLogs:
        region = scoping.region_of(request)
        return ClusterLogs(region.log_service, region.scope, peers, retention)

    return of


def build_app(engine: Engine, route: invoke.InvokeRoute | None = None) -> web.Application:
    config = engine.config
    door = function_url.FunctionUrlDoor(engine.url_owner, engine.clock, config.account_id, config.port)
    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        handler_args={"access_log": None},
    )
    guard = browser_guard.BrowserGuard.of_config(config)
    # function URLs first, by Host; then aiohttp's own errors leave in AWS's shape; then what a
    # web page sent is refused; then who sent the request (its SigV4 signature); then every
    # Lambda API request checked against the model; then the account and region it acts in;
    # then, for a function's own request, its role's IAM policies (api/authorization.py)
    app.middlewares.extend(
        [
            function_url.host_routing(door),
            http_errors.aws_http_errors,
            browser_guard.guard_requests(app, guard),
            authentication.authentication(
                engine.authenticator, engine.connection_origins, engine.cluster_node is not None
            ),
            check_request,
            scoping.scope_routing(engine),
            authorization.authorization(engine.authorizer),
        ]
    )
    at = scoping.region_of
    functions.add_routes(
        app,
        lambda request: at(request).registry,
        engine.machine.code_urls,
        lambda request: at(request).concurrency.reserved,
    )
    code.add_routes(app, engine.machine.code_urls, engine.machine.blobs)
    versions.add_routes(app, lambda request: at(request).registry)
    aliases.add_routes(app, lambda request: at(request).registry)
    layers.add_routes(app, lambda request: at(request).layers, engine.machine.code_urls)
    invoke.add_routes(app, route or invoke_route(engine))
    stream_invoke.add_routes(
        app,
        stream_invoke.StreamInvokeRoute(
            lambda request: at(request).registry, lambda request: at(request).router, engine.clock
        ),
    )
    logs.add_routes(app, lambda request: at(request).registry, lambda request: at(request).log_service)
    metrics.add_routes(app, engine.metrics)
    console.add_routes(app, engine)
    live.add_routes(app, engine.feed, engine.clock)
    concurrency.add_routes(app, lambda request: at(request).concurrency)
    provisioned_concurrency.add_routes(app, lambda request: at(request).provisioned)
    schedules.add_routes(app, lambda request: at(request).schedules)
    roles.add_routes(app, engine.machine.role_policies)
    event_invoke_config.add_routes(app, lambda request: at(request).invoke_configs)
    esm.add_routes(app, lambda request: at(request).mappings, lambda request: at(request).async_queue)
    permissions.add_routes(app, lambda request: at(request).policies)
    tags.add_routes(app, lambda request: at(request).tagging)
    code_signing.add_routes(app, lambda request: at(request).code_signing)
    function_settings.add_routes(app, lambda request: at(request).function_settings)
    capacity_providers.add_routes(app, lambda request: at(request).capacity_providers)
    if isinstance(engine.clock, JumpClock):
        clock_control.add_routes(app, engine.clock)
    if engine.cluster_node is not None:
        cluster.add_routes(app, engine.cluster_node)
        from flare.api import node_logs

        membership = engine.cluster_node.membership
        node_logs.add_routes(app, lambda: membership.token, lambda scope: engine.region(scope).log_service)
    durable_executions.add_routes(
        app, lambda request: at(request).registry, lambda request: at(request).durable
    )
    urls.add_routes(app, lambda request: at(request).function_urls)
    target.add_routes(
        app,
        sqs.endpoint(
            lambda request: at(request).queues, _close_all(engine, lambda region: region.queues.close())
        ),
        kinesis.endpoint(
            lambda request: at(request).streams, _close_all(engine, lambda region: region.streams.close())
        ),
        logs_service.endpoint(
            lambda request: at(request).log_service,
            lambda request: at(request).live_tails,
            _close_all(engine, lambda region: region.live_tails.close()),
            cluster_logs(engine),
        ),
    )

    @aws_route
    async def unknown(request: web.Request) -> web.StreamResponse:
        raise UnknownOperation(f"Flare does not implement {request.method} {request.path}")

    app.router.add_route("*", "/{tail:.*}", unknown)
    return app
