"""The event-stream encoder, decoded by botocore's own parser."""

from __future__ import annotations

import json

from botocore.eventstream import EventStreamBuffer

from flare.api import eventstream


def decode(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(message.headers), message.payload) for message in buffer]


def test_events_decode_with_their_headers_and_payload() -> None:
    data = eventstream.event("initial-response", {}) + eventstream.event("sessionUpdate", {"a": [1, "é"]})
    (first_headers, first), (headers, payload) = decode(data)
    assert first_headers[":event-type"] == "initial-response" and json.loads(first) == {}
    assert headers == {
        ":message-type": "event",
        ":event-type": "sessionUpdate",
        ":content-type": "application/json",
    }
    assert json.loads(payload) == {"a": [1, "é"]}


def test_exceptions_carry_their_type_and_message() -> None:
    [(headers, payload)] = decode(eventstream.exception("SessionTimeoutException", "done"))
    assert headers[":message-type"] == "exception"
    assert headers[":exception-type"] == "SessionTimeoutException"
    assert json.loads(payload) == {"message": "done"}
