"""GetLogEvents' two tokens and FilterLogEvents' nextToken, from tables."""

from __future__ import annotations

import pytest

from flare.observe.logs import LogEvent
from flare.services.log_paging import (
    BadToken,
    filter_page,
    parse_stream_token,
    stream_page,
    stream_token,
)

EVENTS = [LogEvent(1000 + n, n, 1000 + n, f"m{n}", "s") for n in range(5)]


def messages(events: list[LogEvent]) -> list[str]:
    return [event.message for event in events]


def test_head_then_forward_until_the_same_token_comes_back() -> None:
    page = stream_page(EVENTS, None, True, 2)
    assert messages(page.events) == ["m0", "m1"]
    page = stream_page(EVENTS, page.forward, False, 2)
    assert messages(page.events) == ["m2", "m3"]
    page = stream_page(EVENTS, page.forward, False, 2)
    assert messages(page.events) == ["m4"]
    last = stream_page(EVENTS, page.forward, False, 2)
    assert last.events == [] and last.forward == page.forward


def test_tail_then_backward_until_the_same_token_comes_back() -> None:
    page = stream_page(EVENTS, None, False, 2)
    assert messages(page.events) == ["m3", "m4"]
    page = stream_page(EVENTS, page.backward, False, 2)
    assert messages(page.events) == ["m1", "m2"]
    page = stream_page(EVENTS, page.backward, False, 2)
    assert messages(page.events) == ["m0"]
    first = stream_page(EVENTS, page.backward, False, 2)
    assert first.events == [] and first.backward == page.backward


def test_a_forward_token_sees_events_stored_later() -> None:
    page = stream_page(EVENTS, None, True, 10)
    grown = [*EVENTS, LogEvent(2000, 5, 2000, "m5", "s")]
    assert messages(stream_page(grown, page.forward, False, 10).events) == ["m5"]


def test_empty_stream_tokens() -> None:
    page = stream_page([], None, False, 10)
    assert page.events == []
    assert parse_stream_token(page.forward)[0] == "f" and parse_stream_token(page.backward)[0] == "b"
    assert stream_page(EVENTS, page.forward, False, 10).events == EVENTS


@pytest.mark.parametrize("token", ["", "f/123/s", "x/" + "0" * 56 + "/s", "f/" + "a" * 56 + "/s"])
def test_foreign_stream_tokens_are_refused(token: str) -> None:
    with pytest.raises(BadToken):
        parse_stream_token(token)


def test_stream_token_shape_is_cloudwatchs() -> None:
    token = stream_token("f", (1000, 7))
    assert token.startswith("f/") and token.endswith("/s") and len(token) == 60


def test_filter_pages_forward_and_ends_without_token() -> None:
    first, token = filter_page(EVENTS, None, 3)
    assert messages(first) == ["m0", "m1", "m2"] and token
    rest, end = filter_page(EVENTS, token, 3)
    assert messages(rest) == ["m3", "m4"] and end is None


def test_pages_stop_at_a_megabyte() -> None:
    big = [LogEvent(n, n, n, "x" * 400_000, "s") for n in range(4)]
    first, token = filter_page(big, None, 10)
    assert len(first) == 2 and token is not None
