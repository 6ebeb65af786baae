"""A streamed response on its way from the runtime to whoever invoked: limits and the sink.

A runtime streams instead of answering at once (Flare's runtime: STREAM_* frames; any other:
``POST /response`` with ``Lambda-Runtime-Function-Response-Mode: streaming``). The invocation's
``sink``, when the caller gave one (InvokeWithResponseStream, a RESPONSE_STREAM function URL),
gets each piece as it comes; without one (a plain Invoke of a streaming handler) the pieces are
gathered into an ordinary payload, as Lambda buffers a streamed response for ``Invoke``.

``ResponseStream`` counts what went through against the limits; ``InFlight`` owns the one open
for its invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

MAX_STREAM_BYTES = 200 * 1024 * 1024
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
"""Lambda's limit on a buffered response (and on anything else a runtime posts)."""
"""Lambda's limit on a streamed response (200 MB)."""
MAX_BUFFERED_BYTES = 6 * 1024 * 1024
"""A streamed response gathered for a plain Invoke has the buffered limit (6 MB)."""
DEFAULT_CONTENT_TYPE = "application/octet-stream"
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
"""The content type of a stream that starts with an HTTP head (JSON, then eight NUL bytes)."""
STREAM_TOO_LARGE = (
    '{"errorMessage":"Response payload size exceeded maximum allowed payload size (209715200 bytes).",'
    '"errorType":"Function.ResponseSizeTooLarge"}'
)


Pressure = Callable[[bool], None]
"""Called with True when the runtime should stop sending for now, False when it may go on."""


class StreamSink(Protocol):
    """Where a streamed response goes as it comes (the caller's connection).

    ``begin`` once, with the stream's content type, before any ``write``; both are called from
    the event loop and must not block; the stream's end is the invocation's result. A sink that
    cannot keep up (a slow client) tells the producer through the ``on_pressure`` callback, so
    what waits in memory stays bounded."""

    def begin(self, content_type: str) -> None: ...

    def write(self, data: bytes) -> None: ...

    def on_pressure(self, callback: Pressure) -> None: ...


class ResponseStream:
    """One invocation's stream: hands the bytes to ``sink`` (or gathers them when it is None)
    and says when they pass the limit that applies."""

    __slots__ = ("_parts", "_sink", "size")

    def __init__(self, sink: StreamSink | None, content_type: str, pressure: Pressure | None = None) -> None:
        """``pressure``: how to slow the runtime down when ``sink`` asks for it."""
        self._sink = sink
        self._parts: list[bytes] = []
        self.size = 0
        if sink is not None:
            if pressure is not None:
                sink.on_pressure(pressure)
            sink.begin(content_type)

    @property
    def limit(self) -> int:
        return MAX_BUFFERED_BYTES if self._sink is None else MAX_STREAM_BYTES

    def write(self, data: bytes) -> bool:
        """Pass ``data`` on; False (and nothing passed) when it would go past the limit."""
        self.size += len(data)
        if self.size > self.limit:
            return False
        if self._sink is None:
            self._parts.append(data)
        else:
            self._sink.write(data)
        return True

    def gathered(self) -> bytes:
        """Everything written, when there is no sink (b"" when there is one: it has it all)."""
        return b"".join(self._parts)
