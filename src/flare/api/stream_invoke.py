"""InvokeWithResponseStream: ``POST /2021-11-15/functions/{name}/response-streaming-invocations``.

The answer is 200 with an event stream (``eventstream``): a ``PayloadChunk`` per piece the
function streams, as it streams it, then ``InvokeComplete``. A function that answers at once
(no streaming handler) has its whole payload sent as one ``PayloadChunk`` (split at 1 MB).
Errors found before the function runs (not found, throttled, a bad payload) are ordinary AWS
error responses; a function error is ``InvokeComplete``'s ``ErrorCode`` (the error's type,
``Sandbox.Timedout`` for a timeout) and ``ErrorDetails`` (its payload). ``X-Amz-Invocation-Type``
``DryRun`` answers 204; ``X-Amz-Log-Type: Tail`` puts the log's last 4 KB in ``LogResult``.
"""

from __future__ import annotations

from aiohttp import web

from flare.api import eventstream
from flare.api.invoke import MAX_SYNC_PAYLOAD, client_context, log_tail, read_payload
from flare.api.response_stream import ChunkQueue, streamed_invoke
from flare.api.scoping import Of
from flare.api.wire import REQUEST_ID_HEADER, aws_route, empty_response
from flare.clock import Clock
from flare.control.registry import Registry
from flare.ids import new_request_id, new_trace_id
from flare.placement.router import Router
from flare.sandbox.invocation import Invocation, InvocationResult

PATH = "/2021-11-15/functions/{name}/response-streaming-invocations"


class StreamInvokeRoute:
    """The aiohttp handler of InvokeWithResponseStream."""

    def __init__(self, registry_of: Of[Registry], router_of: Of[Router], clock: Clock) -> None:
        self._registry_of = registry_of
        self._router_of = router_of
        self._clock = clock

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        registry = self._registry_of(request)
        version, invoked_arn = registry.resolve_invocation(name, request.query.get("Qualifier") or None)
        if request.headers.get("X-Amz-Invocation-Type") == "DryRun":
            return empty_response(204)
        payload = await read_payload(request, MAX_SYNC_PAYLOAD)
        queue = ChunkQueue()
        invocation = Invocation(
            request_id=new_request_id(),
            payload=payload,
            invoked_arn=invoked_arn,
            trace_id=new_trace_id(self._clock.wall()),
            client_context=client_context(request.headers.get("X-Amz-Client-Context")),
            tenant_id=request.headers.get("X-Amz-Tenant-Id"),
            sink=queue,
        )
        response = web.StreamResponse(
            status=200,
            headers={
                REQUEST_ID_HEADER: invocation.request_id,
                "X-Amz-Executed-Version": version.version,
                "Content-Type": eventstream.CONTENT_TYPE,
            },
        )

        async def send(data: bytes) -> None:
            if not response.prepared:
                await response.prepare(request)
            for chunk in eventstream.payload_chunks(data):
                await response.write(chunk)

        tail = request.headers.get("X-Amz-Log-Type") == "Tail"
        try:
            async with streamed_invoke(self._router_of(request), version, invocation, queue, send) as result:
                if not queue.began and not result.error_type:
                    await send(result.payload)
                if not response.prepared:
                    await response.prepare(request)
                await response.write(complete_event(result, tail))
                await response.write_eof()
        except OSError:
            if not response.prepared:
                raise
        return response  # (when the client went away mid-stream, to nobody)


def complete_event(result: InvocationResult, tail: bool) -> bytes:
    """The ``InvokeComplete`` that ends the stream of ``result``."""
    details = result.payload.decode(errors="replace") if result.error_type else None
    return eventstream.invoke_complete(
        result.error_type, details, log_tail(result.log.text) if tail else None
    )


def add_routes(app: web.Application, route: StreamInvokeRoute) -> None:
    app.router.add_post(PATH, aws_route(route))
