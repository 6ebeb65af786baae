"""The invocation in flight: the Runtime API's rules for answers and for ``/next``."""

from __future__ import annotations

import asyncio

import pytest

from flare.sandbox.inflight import MAX_RESPONSE_BYTES, InFlight
from flare.sandbox.invocation import Invocation, Outcome
from flare.sandbox.runtime_api import NextEvent, RuntimeApiError

FIRST = Invocation("id-1", b"{}", "arn:aws:lambda:us-east-1:000000000000:function:f", "Root=1-a")
SECOND = Invocation("id-2", b"{}", FIRST.invoked_arn, "Root=1-b")


def run(scenario: object) -> None:
    asyncio.run(scenario())  # type: ignore[operator]


def error_of(call: object) -> tuple[int, str]:
    with pytest.raises(RuntimeApiError) as raised:
        call()  # type: ignore[operator]
    return raised.value.status, raised.value.error_type


def test_an_answer_lands_once_and_a_second_one_is_refused() -> None:
    async def scenario() -> None:
        inflight = InFlight()
        answered = inflight.begin(FIRST, asyncio.get_running_loop())
        inflight.answer("id-1", Outcome(b'"ok"'), "busy")
        assert (await answered).payload == b'"ok"'
        assert not inflight.unanswered
        assert error_of(lambda: inflight.answer("id-1", Outcome(b"again"), "busy")) == (
            403,
            "InvalidStateTransition",
        )

    run(scenario)


@pytest.mark.parametrize(
    ("opened", "request_id", "expected"),
    [
        (True, "id-other", (400, "InvalidRequestID")),
        (False, "id-1", (403, "InvalidStateTransition")),
        (False, None, (403, "InvalidStateTransition")),
    ],
)
def test_answers_that_break_the_rules_are_refused_and_change_nothing(
    opened: bool, request_id: str | None, expected: tuple[int, str]
) -> None:
    async def scenario() -> None:
        inflight = InFlight()
        answered = inflight.begin(FIRST, asyncio.get_running_loop()) if opened else None
        assert error_of(lambda: inflight.answer(request_id, Outcome(b"x"), "idle")) == expected
        assert answered is None or not answered.done()

    run(scenario)


def test_an_answer_over_6_mb_fails_the_invocation_and_tells_the_runtime_413() -> None:
    async def scenario() -> None:
        inflight = InFlight()
        answered = inflight.begin(FIRST, asyncio.get_running_loop())
        big = Outcome(b"x" * (MAX_RESPONSE_BYTES + 1))
        assert error_of(lambda: inflight.answer("id-1", big, "busy")) == (413, "RequestEntityTooLarge")
        assert (await answered).error_type == "Function.ResponseSizeTooLarge"

    run(scenario)


def test_fail_ends_only_an_unanswered_invocation() -> None:
    async def scenario() -> None:
        inflight = InFlight()
        answered = inflight.begin(FIRST, asyncio.get_running_loop())
        assert inflight.fail(Outcome(b"timeout", "Sandbox.Timedout", healthy=False))
        assert not inflight.fail(Outcome(b"late"))
        assert (await answered).error_type == "Sandbox.Timedout"
        inflight.end()
        assert inflight.current is None and not inflight.fail(Outcome(b"none"))

    run(scenario)


def test_next_event_waits_for_the_offer_and_refuses_a_second_waiter() -> None:
    async def scenario() -> None:
        inflight = InFlight()
        event = NextEvent(b"{}", {"Lambda-Runtime-Aws-Request-Id": "id-2"})
        inflight.offer(NextEvent(b"{}", {"Lambda-Runtime-Aws-Request-Id": "id-1"}))
        early = await inflight.next_event()  # offered before anyone asked: at once
        assert early.headers["Lambda-Runtime-Aws-Request-Id"] == "id-1"
        waiting = asyncio.ensure_future(inflight.next_event())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeApiError, match="already waiting"):
            await inflight.next_event()
        inflight.offer(event)
        assert await waiting is event

    run(scenario)


def test_next_event_is_refused_while_the_invocation_is_unanswered_and_cancelled_on_close() -> None:
    async def scenario() -> None:
        inflight = InFlight()
        inflight.begin(SECOND, asyncio.get_running_loop())
        with pytest.raises(RuntimeApiError, match="has not been answered"):
            await inflight.next_event()
        inflight.answer("id-2", Outcome(b"1"), "busy")
        waiting = asyncio.ensure_future(inflight.next_event())
        await asyncio.sleep(0)
        inflight.close()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    run(scenario)
