"""The invocation an environment is serving, from delivery to answer.

One at a time. ``begin(invocation, loop)`` opens it and gives the future its outcome lands in; the
runtime answers with ``answer(request_id, outcome)`` (a RESPONSE or ERROR frame, or the Runtime
API's ``/response`` and ``/error``), which keeps the Runtime API's rules:

* an id already answered, or no invocation open → 403 ``InvalidStateTransition``;
* an id other than the one in flight → 400 ``InvalidRequestID``;
* a payload over 6 MB → the invocation fails with ``Function.ResponseSizeTooLarge`` and the
  runtime hears 413 ``RequestEntityTooLarge``.

``fail(outcome)`` ends it from outside (a timeout, the runtime's exit); ``end()`` closes it once
the environment has the outcome. A runtime on the HTTP Runtime API takes its event from
``await next_event()`` (the ``/next`` long poll), which ``offer(event)`` answers.
"""

from __future__ import annotations

import asyncio

from flare.sandbox.invocation import Invocation, Outcome
from flare.sandbox.runtime_api import NextEvent, RuntimeApiError

MAX_RESPONSE_BYTES = 6 * 1024 * 1024
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

    @property
    def unanswered(self) -> bool:
        """An invocation is open and its outcome not yet in."""
        return self.current is not None and self._outcome is not None and not self._outcome.done()

    def begin(self, invocation: Invocation, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Outcome]:
        """Open ``invocation``; its outcome will be the result of the future returned."""
        self.current = invocation
        self._outcome = loop.create_future()
        return self._outcome

    def end(self) -> None:
        self.current = None

    def answer(self, request_id: str | None, outcome: Outcome, state: str) -> None:
        """The runtime's answer (``request_id`` None: the frame carried none). Raises
        RuntimeApiError per the rules above; ``state`` names the environment's for the 403."""
        current = self.current
        if request_id is not None and request_id == self._answered_id:
            raise RuntimeApiError(
                403, "InvalidStateTransition", f"Invocation {request_id} was already answered"
            )
        if current is None or self._outcome is None or self._outcome.done():
            raise RuntimeApiError(403, "InvalidStateTransition", f"State transition is not allowed: {state}")
        if request_id is not None and request_id != current.request_id:
            raise RuntimeApiError(400, "InvalidRequestID", f"Invalid request ID: {request_id}")
        self._answered_id = current.request_id
        if len(outcome.payload) > MAX_RESPONSE_BYTES:
            too_large = RESPONSE_TOO_LARGE.encode()
            self._outcome.set_result(
                Outcome(too_large, "Function.ResponseSizeTooLarge", True, outcome.max_rss_kb)
            )
            raise RuntimeApiError(
                413, "RequestEntityTooLarge", "Response payload size exceeded maximum allowed"
            )
        self._outcome.set_result(outcome)

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
            waiter.set_result(event)
        else:
            self._http_pending = event

    async def next_event(self) -> NextEvent:
        """``GET /next``: the offered event, at once or when it comes. Raises RuntimeApiError
        (403) while another ``/next`` waits or the invocation in flight is unanswered."""
        pending, self._http_pending = self._http_pending, None
        if pending is not None:
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
        return await self._http_waiter

    def close(self) -> None:
        """The environment is going: a ``/next`` still waiting is cancelled."""
        if self._http_waiter is not None and not self._http_waiter.done():
            self._http_waiter.cancel()
