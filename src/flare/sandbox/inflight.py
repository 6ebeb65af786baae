"""The invocation an environment is serving, from delivery to answer.

One at a time. ``begin(invocation, loop)`` opens it and gives the future its outcome lands in; the
runtime answers with ``answer(request_id, outcome)`` (a RESPONSE or ERROR frame, or the Runtime
API's ``/response`` and ``/error``), which keeps the Runtime API's rules:

* an id already answered, or no invocation open → 403 ``InvalidStateTransition``;
* an id other than the one in flight → 400 ``InvalidRequestID``;
* a payload over 6 MB → the invocation fails with ``Function.ResponseSizeTooLarge`` and the
  runtime hears 413 ``RequestEntityTooLarge``.

A streamed answer follows the same rules: ``begin_stream`` claims the invocation (a second
answer is refused as above), ``stream`` passes each piece on (``streaming.ResponseStream``), and
``end_stream`` gives the outcome. A stream past its limit fails the invocation with
``Function.ResponseSizeTooLarge`` and an unhealthy outcome: its runtime is still writing.

``fail(outcome)`` ends it from outside (a timeout, the runtime's exit); ``end()`` closes it once
the environment has the outcome. A runtime on the HTTP Runtime API takes its event from
``await next_event()`` (the ``/next`` long poll), which ``offer(event)`` answers.

Two facts about that runtime, for what comes after an answer:

* ``taken``: the runtime has the invocation's event. A runtime that exits before taking it (it
  posted its last answer and then exited, as Node's client does on an uncaught exception and
  Java's on an ``OutOfMemoryError``) never started the invocation, which can run elsewhere.
* ``asked_for_next()``: None once the runtime waits in ``/next`` with nothing to do; before
  that, a future that resolves when it does. Lambda freezes an environment only then: a
  runtime still busy after its answer, or on its way out, is not frozen in the middle.
"""

from __future__ import annotations

import asyncio

from flare.sandbox.invocation import Invocation, Outcome
from flare.sandbox.runtime_api import NextEvent, RuntimeApiError
from flare.sandbox.streaming import MAX_RESPONSE_BYTES, STREAM_TOO_LARGE, Pressure, ResponseStream

RESPONSE_TOO_LARGE = (
    '{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).",'
    '"errorType":"Function.ResponseSizeTooLarge"}'
)


class InFlight:
    def __init__(self) -> None:
        self.current: Invocation | None = None
        self._outcome: asyncio.Future[Outcome] | None = None
        self._answered_id: str | None = None
        self._http_waiter: asyncio.Future[NextEvent] | None = None
        self._http_pending: NextEvent | None = None
        self._stream: ResponseStream | None = None
        self.taken = False
        self._asked: asyncio.Future[None] | None = None

    @property
    def unanswered(self) -> bool:
        """An invocation is open and its outcome not yet in."""
        return self.current is not None and self._outcome is not None and not self._outcome.done()

    def begin(self, invocation: Invocation, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Outcome]:
        """Open ``invocation``; its outcome will be the result of the future returned."""
        self.current = invocation
        self._outcome = loop.create_future()
        self.taken = False
        return self._outcome

    def end(self) -> None:
        self.current = None
        self._stream = None

    def _claim(self, request_id: str | None, state: str) -> asyncio.Future[Outcome]:
        """Check that the runtime may answer now, per the rules above, and record that it did."""
        current = self.current
        if request_id is not None and request_id == self._answered_id:
            raise RuntimeApiError(
                403, "InvalidStateTransition", f"Invocation {request_id} was already answered"
            )
        if current is None or self._outcome is None or self._outcome.done() or self._stream is not None:
            raise RuntimeApiError(403, "InvalidStateTransition", f"State transition is not allowed: {state}")
        if request_id is not None and request_id != current.request_id:
            raise RuntimeApiError(400, "InvalidRequestID", f"Invalid request ID: {request_id}")
        self._answered_id = current.request_id
        return self._outcome

    def answer(self, request_id: str | None, outcome: Outcome, state: str) -> None:
        """The runtime's answer (``request_id`` None: the frame carried none). Raises
        RuntimeApiError per the rules above; ``state`` names the environment's for the 403."""
        answered = self._claim(request_id, state)
        if len(outcome.payload) > MAX_RESPONSE_BYTES:
            too_large = RESPONSE_TOO_LARGE.encode()
            answered.set_result(Outcome(too_large, "Function.ResponseSizeTooLarge", True, outcome.max_rss_kb))
            raise RuntimeApiError(
                413, "RequestEntityTooLarge", "Response payload size exceeded maximum allowed"
            )
        answered.set_result(outcome)

    # ---- a streamed answer --------------------------------------------------------------

    def begin_stream(
        self, request_id: str | None, content_type: str, state: str, pressure: Pressure | None = None
    ) -> StreamWriter:
        """The runtime starts streaming its answer. ``pressure`` pauses and resumes it (the
        frames channel); without one the returned writer does (the HTTP Runtime API's handler
        awaits ``writable()``). Raises RuntimeApiError as ``answer`` does."""
        self._claim(request_id, state)
        assert self.current is not None
        writer = StreamWriter(self)
        self._stream = ResponseStream(self.current.sink, content_type, pressure or writer.pressure)
        return writer

    def stream(self, data: bytes) -> bool:
        """A piece of the stream in flight; False when there is none any more (the invocation
        ended: timed out, or the stream went past its limit, which ends it here)."""
        stream = self._stream
        if stream is None or self._outcome is None or self._outcome.done():
            return False
        if stream.write(data):
            return True
        body = RESPONSE_TOO_LARGE if stream.limit == MAX_RESPONSE_BYTES else STREAM_TOO_LARGE
        self._outcome.set_result(Outcome(body.encode(), "Function.ResponseSizeTooLarge", healthy=False))
        return False

    def end_stream(self, error_type: str | None, error_body: bytes, rss_kb: int) -> None:
        """The stream's end: its outcome (the error's payload when ``error_type`` is set, else
        what was gathered, b"" when a sink had it all). Nothing when the invocation already
        ended."""
        stream = self._stream
        if stream is None or self._outcome is None or self._outcome.done():
            return
        payload = error_body if error_type else stream.gathered()
        self._outcome.set_result(Outcome(payload, error_type, True, rss_kb))

    def fail(self, outcome: Outcome) -> bool:
        """End the open invocation with ``outcome`` (a timeout, a crash); False if none is open."""
        if not self.unanswered:
            return False
        assert self._outcome is not None
        self._outcome.set_result(outcome)
        return True

    # ---- the HTTP Runtime API's delivery ------------------------------------------------

    def offer(self, event: NextEvent) -> None:
        """Deliver ``event`` to the ``/next`` call waiting, or to the next one."""
        waiter, self._http_waiter = self._http_waiter, None
        if waiter is not None and not waiter.done():
            self.taken = True
            waiter.set_result(event)
        else:
            self._http_pending = event

    async def next_event(self) -> NextEvent:
        """``GET /next``: the offered event, at once or when it comes. Raises RuntimeApiError
        (403) while another ``/next`` waits or the invocation in flight is unanswered."""
        pending, self._http_pending = self._http_pending, None
        if pending is not None:
            self.taken = True
            return pending
        if self._http_waiter is not None and not self._http_waiter.done():
            raise RuntimeApiError(
                403, "InvalidStateTransition", "A request for the next event is already waiting"
            )
        if self.unanswered:
            raise RuntimeApiError(
                403, "InvalidStateTransition", "The invocation in flight has not been answered"
            )
        self._http_waiter = asyncio.get_running_loop().create_future()
        asked, self._asked = self._asked, None
        if asked is not None and not asked.done():
            asked.set_result(None)
        return await self._http_waiter

    def asked_for_next(self) -> asyncio.Future[None] | None:
        """None when the runtime waits in ``/next`` with no invocation open; else a future that
        resolves when it next does (cancelled by ``close``)."""
        waiting = self._http_waiter is not None and not self._http_waiter.done()
        if waiting and not self.unanswered:
            return None
        if self._asked is None:
            self._asked = asyncio.get_running_loop().create_future()
        return self._asked

    def close(self) -> None:
        """The environment is going: a ``/next`` still waiting, and whoever waits for one, are
        cancelled."""
        if self._http_waiter is not None and not self._http_waiter.done():
            self._http_waiter.cancel()
        if self._asked is not None and not self._asked.done():
            self._asked.cancel()


class StreamWriter:
    """``runtime_api.ResponseWriter`` for the stream ``InFlight`` has open."""

    __slots__ = ("_inflight", "_resumed")

    def __init__(self, inflight: InFlight) -> None:
        self._inflight = inflight
        self._resumed: asyncio.Future[None] | None = None

    def write(self, data: bytes) -> bool:
        return self._inflight.stream(data)

    async def writable(self) -> None:
        """Until the sink can take more (at once, unless it asked to pause)."""
        if self._resumed is not None:
            await asyncio.shield(self._resumed)

    def pressure(self, paused: bool) -> None:
        if paused and self._resumed is None:
            self._resumed = asyncio.get_running_loop().create_future()
        elif not paused and self._resumed is not None:
            resumed, self._resumed = self._resumed, None
            if not resumed.done():
                resumed.set_result(None)

    def end(self, error_type: str | None, error_body: bytes) -> None:
        self._inflight.end_stream(error_type, error_body, 0)
