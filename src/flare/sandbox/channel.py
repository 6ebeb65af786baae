"""How an environment hears from and talks to its runtime: frames and Runtime API events.

``invoke_frame`` and ``next_event`` are the two shapes of one delivery (Flare's runtime reads
frames; every other runtime client reads ``GET /next``); ``FrameProtocol`` feeds the frames a
runtime sends back into its ``Environment``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

import orjson

from flare.runtimes.lambda_python import frames
from flare.sandbox.invocation import Invocation, Outcome
from flare.sandbox.runtime_api import NextEvent
from flare.sandbox.streaming import MAX_RESPONSE_BYTES

MAX_FRAME_BODY = MAX_RESPONSE_BYTES
"""The most of one frame's body the engine keeps: a response, an error or a stream chunk
(Lambda's 6 MB; a longer response fails as ``Function.ResponseSizeTooLarge``)."""


class InitTimeout(Exception):
    """INIT (or a restore) outlived its limit."""


class InitError(Exception):
    """INIT (or a restore) ended in an error; ``outcome`` is what the invocation gets."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error_type)
        self.outcome = outcome


class FrameSink(Protocol):
    def on_frame(self, kind: int, header: dict[str, Any], body: bytes) -> None: ...

    def channel_lost(self) -> None: ...


class FrameProtocol(asyncio.Protocol):
    """The engine's end of Flare's runtime channel: complete frames go to ``sink``. What a
    function sends is bounded (``MAX_FRAME_BODY``: a longer body reaches the sink cut to one
    byte past it, so the answer is still too large); bytes that are no frame end the channel
    (the environment is lost, as when its runtime dies)."""

    def __init__(self, sink: FrameSink) -> None:
        self._sink = sink
        self._reader = frames.FrameReader(orjson.loads, MAX_FRAME_BODY)
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            received = self._reader.feed(data)
        except frames.FrameError:
            if self._transport is not None:
                self._transport.close()  # connection_lost follows: the sink hears channel_lost
            return
        for kind, header, body in received:
            self._sink.on_frame(kind, header, body)

    def connection_lost(self, exc: Exception | None) -> None:
        self._sink.channel_lost()


def invoke_frame(invocation: Invocation, deadline_ms: int) -> bytes:
    """The INVOKE frame for Flare's own runtime."""
    header: dict[str, Any] = {
        "id": invocation.request_id,
        "deadline": deadline_ms,
        "arn": invocation.invoked_arn,
        "trace": invocation.trace_id,
    }
    if invocation.tenant_id is not None:
        header["tenant"] = invocation.tenant_id
    if invocation.client_context:  # any JSON (big integers too): the standard library's codec
        header["client_context"] = json.loads(invocation.client_context)
        return frames.encode(frames.INVOKE, header, invocation.payload)
    return frames.pack(frames.INVOKE, orjson.dumps(header), invocation.payload)


def next_event(invocation: Invocation, deadline_ms: int) -> NextEvent:
    """The answer to ``GET /runtime/invocation/next``, headers exactly as Lambda sends them."""
    headers = {
        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
        "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_arn,
        "Lambda-Runtime-Trace-Id": invocation.trace_id,
        "Content-Type": "application/json",
    }
    if invocation.client_context:
        headers["Lambda-Runtime-Client-Context"] = invocation.client_context
    if invocation.tenant_id is not None:
        headers["Lambda-Runtime-Aws-Tenant-Id"] = invocation.tenant_id
    return NextEvent(invocation.payload or b"{}", headers)


def fail_future(future: asyncio.Future[Any] | None, error: BaseException) -> None:
    """Fail ``future`` with ``error`` unless it is already done."""
    if future is not None and not future.done():
        future.set_exception(error)


def error_type_of(body: bytes) -> str | None:
    """The ``errorType`` of an AWS error payload, if it is one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    error_type = parsed.get("errorType") if isinstance(parsed, dict) else None
    return error_type if isinstance(error_type, str) else None
