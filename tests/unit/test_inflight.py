"""The invocation in flight: the Runtime API's rules for answers and for ``/next``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from flare.sandbox.inflight import InFlight
from flare.sandbox.invocation import Invocation, Outcome
from flare.sandbox.runtime_api import NextEvent, RuntimeApiError
from flare.sandbox.streaming import MAX_BUFFERED_BYTES, MAX_RESPONSE_BYTES, MAX_STREAM_BYTES

FIRST = Invocation("id-1", b"{}", "arn:aws:lambda:us-east-1:000000000000:function:f", "Root=1-a")
SECOND = Invocation("id-2", b"{}", FIRST.invoked_arn, "Root=1-b")


def run(scenario: Callable[[], Coroutine[Any, Any, object]]) -> None:
    asyncio.run(scenario())


def error_of(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(RuntimeApiError) as raised:
        call()
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


def test_the_runtime_asks_for_next_only_once_it_waits_in_next_with_nothing_open() -> None:
    async def scenario() -> None:
        inflight = InFlight()
        inflight.begin(FIRST, asyncio.get_running_loop())
        inflight.offer(NextEvent(b"{}", {"Lambda-Runtime-Aws-Request-Id": "id-1"}))
        assert not inflight.taken
        await inflight.next_event()  # the offered event, taken
        assert inflight.taken
        asked = inflight.asked_for_next()
        assert asked is not None
        inflight.answer("id-1", Outcome(b"1"), "busy")
        assert inflight.asked_for_next() is asked and not asked.done()  # answered, not yet asking
        waiting = asyncio.ensure_future(inflight.next_event())
        await asyncio.sleep(0)
        assert asked.done() and inflight.asked_for_next() is None
        inflight.end()
        inflight.begin(SECOND, asyncio.get_running_loop())  # a new one, taken by the waiting /next
        inflight.offer(NextEvent(b"{}", {"Lambda-Runtime-Aws-Request-Id": "id-2"}))
        assert inflight.taken and (await waiting).headers["Lambda-Runtime-Aws-Request-Id"] == "id-2"
        later = inflight.asked_for_next()
        assert later is not None
        inflight.close()
        assert later.cancelled()

    run(scenario)


def test_an_offered_event_no_next_took_is_not_taken() -> None:
    async def scenario() -> None:
        inflight = InFlight()
        inflight.begin(SECOND, asyncio.get_running_loop())
        inflight.offer(NextEvent(b"{}", {"Lambda-Runtime-Aws-Request-Id": "id-2"}))
        assert not inflight.taken and inflight.asked_for_next() is not None

    run(scenario)


# ---- a streamed answer --------------------------------------------------------------------


class Recorder:
    """A StreamSink that remembers what it got."""

    def __init__(self) -> None:
        self.content_type: str | None = None
        self.pieces: list[bytes] = []

    def begin(self, content_type: str) -> None:
        self.content_type = content_type

    def write(self, data: bytes) -> None:
        self.pieces.append(data)

    def on_pressure(self, callback: object) -> None:
        pass


def streamed(sink: Recorder | None) -> Invocation:
    return Invocation("id-s", b"{}", FIRST.invoked_arn, "Root=1-s", sink=sink)


def test_a_stream_goes_to_the_sink_as_it_comes_and_ends_with_an_empty_payload() -> None:
    async def scenario() -> None:
        inflight, sink = InFlight(), Recorder()
        answered = inflight.begin(streamed(sink), asyncio.get_running_loop())
        inflight.begin_stream("id-s", "text/plain", "busy")
        assert sink.content_type == "text/plain"
        assert inflight.stream(b"one ")
        assert sink.pieces == [b"one "] and not answered.done()
        assert inflight.stream(b"two")
        inflight.end_stream(None, b"", 512)
        outcome = await answered
        assert (outcome.payload, outcome.error_type, outcome.healthy) == (b"", None, True)
        assert outcome.max_rss_kb == 512
        assert sink.pieces == [b"one ", b"two"]

    run(scenario)


def test_a_stream_without_a_sink_is_gathered_into_the_payload() -> None:
    async def scenario() -> None:
        inflight = InFlight()
        answered = inflight.begin(streamed(None), asyncio.get_running_loop())
        inflight.begin_stream(None, "application/octet-stream", "busy")
        inflight.stream(b"a")
        inflight.stream(b"b")
        inflight.end_stream(None, b"", 0)
        assert (await answered).payload == b"ab"

    run(scenario)


def test_an_error_at_the_end_of_a_stream_is_the_outcome() -> None:
    async def scenario() -> None:
        inflight, sink = InFlight(), Recorder()
        answered = inflight.begin(streamed(sink), asyncio.get_running_loop())
        inflight.begin_stream("id-s", "text/plain", "busy")
        inflight.stream(b"partial")
        inflight.end_stream("Custom.Broken", b'{"errorType":"Custom.Broken"}', 0)
        outcome = await answered
        assert (outcome.error_type, outcome.payload, outcome.healthy) == (
            "Custom.Broken",
            b'{"errorType":"Custom.Broken"}',
            True,
        )

    run(scenario)


def test_a_stream_claims_the_invocation_so_a_second_answer_is_refused() -> None:
    async def scenario() -> None:
        inflight = InFlight()
        inflight.begin(streamed(Recorder()), asyncio.get_running_loop())
        assert error_of(lambda: inflight.begin_stream("id-other", "x", "busy")) == (400, "InvalidRequestID")
        inflight.begin_stream("id-s", "x", "busy")
        assert error_of(lambda: inflight.answer("id-s", Outcome(b"x"), "busy"))[0] == 403
        assert error_of(lambda: inflight.answer(None, Outcome(b"x"), "busy"))[0] == 403
        assert error_of(lambda: inflight.begin_stream(None, "x", "busy"))[0] == 403

    run(scenario)


def test_pieces_after_a_timeout_are_dropped_and_the_end_changes_nothing() -> None:
    async def scenario() -> None:
        inflight, sink = InFlight(), Recorder()
        answered = inflight.begin(streamed(sink), asyncio.get_running_loop())
        inflight.begin_stream("id-s", "x", "busy")
        inflight.fail(Outcome(b"timed out", "Sandbox.Timedout", healthy=False))
        assert not inflight.stream(b"late")
        inflight.end_stream(None, b"", 0)
        assert sink.pieces == []
        assert (await answered).error_type == "Sandbox.Timedout"

    run(scenario)


@pytest.mark.parametrize(
    ("sink", "limit", "message"),
    [(None, MAX_BUFFERED_BYTES, b"6291556"), (Recorder(), MAX_STREAM_BYTES, b"209715200")],
)
def test_a_stream_past_its_limit_fails_the_invocation_and_the_environment(
    sink: Recorder | None, limit: int, message: bytes
) -> None:
    async def scenario() -> None:
        inflight = InFlight()
        answered = inflight.begin(streamed(sink), asyncio.get_running_loop())
        inflight.begin_stream("id-s", "x", "busy")
        piece = b"x" * (1024 * 1024)
        for _ in range(limit // len(piece)):
            assert inflight.stream(piece)
        assert not inflight.stream(b"!")
        outcome = await answered
        assert outcome.error_type == "Function.ResponseSizeTooLarge"
        assert message in outcome.payload
        assert not outcome.healthy  # its runtime is still writing: the environment is replaced
        assert sink is None or sum(map(len, sink.pieces)) == limit

    run(scenario)
