"""How CloudWatch Logs pages events: pure functions over events already read, tested from tables.

``GetLogEvents`` pages one stream with two tokens. Events are ordered by (timestamp, seq) (their
*position*). ``f/<position>/s`` asks for the events at or after a position, ``b/<position>/s``
for those before it. An answer's ``nextForwardToken`` points just after its last event and its
``nextBackwardToken`` at its first one; an answer with no event gives back the token it was
asked with, which is how a client knows it reached the end (CloudWatch's contract). Without a
token, ``startFromHead`` picks the oldest events, else the newest.

``FilterLogEvents`` pages forward only: its ``nextToken`` holds the position after the last event
it returned, and is absent when nothing more matched.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass

from flare.observe.logs import LogEvent

MAX_EVENTS = 10_000
MAX_PAGE_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26

Position = tuple[int, int]
START: Position = (0, 0)


class BadToken(ValueError):
    """A token this service did not hand out."""


def position(event: LogEvent) -> Position:
    return (event.timestamp_ms, event.seq)


def after(event: LogEvent) -> Position:
    return (event.timestamp_ms, event.seq + 1)


def event_id(event: LogEvent) -> str:
    """A 56-digit id, unique within the group (CloudWatch's event ids are 56 digits too)."""
    return f"{event.timestamp_ms:020d}{event.seq:036d}"


def stream_token(direction: str, at: Position) -> str:
    return f"{direction}/{at[0]:020d}{at[1]:036d}/s"


def parse_stream_token(token: str) -> tuple[str, Position]:
    """``("f" | "b", position)``; raises :class:`BadToken`."""
    parts = token.split("/")
    if len(parts) != 3 or parts[0] not in ("f", "b") or len(parts[1]) != 56 or not parts[1].isdigit():
        raise BadToken(token)
    return parts[0], (int(parts[1][:20]), int(parts[1][20:]))


def page_count(events: Sequence[LogEvent], limit: int) -> int:
    """How many of ``events`` (from the front) fit ``limit`` and the page's byte budget."""
    total = 0
    for count, event in enumerate(events[:limit]):
        total += len(event.message.encode()) + EVENT_OVERHEAD_BYTES
        if total > MAX_PAGE_BYTES:
            return max(count, 1)
    return min(limit, len(events))


@dataclass(frozen=True)
class StreamPage:
    events: list[LogEvent]
    forward: str
    backward: str


def stream_page(ordered: Sequence[LogEvent], token: str | None, from_head: bool, limit: int) -> StreamPage:
    """One ``GetLogEvents`` answer from the stream's events in (timestamp, seq) order (already
    cut to the request's time range). Raises :class:`BadToken`."""
    if token is not None:
        direction, at = parse_stream_token(token)
    else:
        direction, at = ("f", START) if from_head else ("b", (1 << 62, 0))
    if direction == "f":
        candidates = [event for event in ordered if position(event) >= at]
        chosen = candidates[: page_count(candidates, limit)]
    else:
        candidates = [event for event in ordered if position(event) < at]
        count = page_count(candidates[::-1], limit)
        chosen = candidates[len(candidates) - count :]
    if not chosen:
        echo = token or stream_token(direction, at if direction == "f" else START)
        same = parse_stream_token(echo)[1]
        return StreamPage([], stream_token("f", same), stream_token("b", same))
    return StreamPage(chosen, stream_token("f", after(chosen[-1])), stream_token("b", position(chosen[0])))


def filter_token(at: Position) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(at)).encode()).decode()


def parse_filter_token(token: str) -> Position:
    """Raises :class:`BadToken`."""
    try:
        timestamp, seq = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(timestamp), int(seq)
    except (binascii.Error, ValueError, TypeError):
        raise BadToken(token) from None


def filter_page(
    ordered: Sequence[LogEvent], token: str | None, limit: int
) -> tuple[list[LogEvent], str | None]:
    """One ``FilterLogEvents`` answer from matching events in (timestamp, seq) order, and the
    ``nextToken`` (None when nothing is left). Raises :class:`BadToken`."""
    at = parse_filter_token(token) if token else START
    candidates = [event for event in ordered if position(event) >= at]
    count = page_count(candidates, limit)
    chosen = candidates[:count]
    more = count < len(candidates)
    return chosen, filter_token(after(chosen[-1])) if more and chosen else None
