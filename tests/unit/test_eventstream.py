"""The event stream encoder, read back by botocore's own parser (what boto3 runs)."""

from __future__ import annotations

import json
import struct
from typing import Any, cast
from zlib import crc32

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from flare.api import eventstream


def parsed(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    # botocore-stubs call a message's headers an int: they are the decoded dict
    return [(cast("dict[str, str]", message.headers), message.payload) for message in buffer]


def test_a_message_is_framed_with_both_crcs_as_botocore_checks_them() -> None:
    data = eventstream.message({":event-type": "PayloadChunk"}, b"hello")
    total, headers_length, prelude_crc = struct.unpack(">III", data[:12])
    assert total == len(data)
    assert prelude_crc == crc32(data[:8])
    assert struct.unpack(">I", data[-4:])[0] == crc32(data[:-4])
    assert data[12 + headers_length : -4] == b"hello"
    assert parsed(data) == [({":event-type": "PayloadChunk"}, b"hello")]


def test_a_corrupted_message_is_refused_by_botocore() -> None:
    data = bytearray(eventstream.message({":event-type": "PayloadChunk"}, b"hello"))
    data[-6] ^= 0xFF
    with pytest.raises(ChecksumMismatch):
        parsed(bytes(data))


def test_payload_chunks_are_events_of_at_most_one_megabyte() -> None:
    data = bytes(range(256)) * (9 * 1024)  # 2.25 MB
    messages = parsed(b"".join(eventstream.payload_chunks(data)))
    assert [len(payload) for _, payload in messages] == [
        1024 * 1024,
        1024 * 1024,
        len(data) - 2 * 1024 * 1024,
    ]
    assert b"".join(payload for _, payload in messages) == data
    assert messages[0][0] == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert list(eventstream.payload_chunks(b"")) == []


@pytest.mark.parametrize(
    ("code", "details", "log", "expected"),
    [
        (None, None, None, {}),
        (None, None, "U1RBUlQ=", {"LogResult": "U1RBUlQ="}),
        (
            "ValueError",
            '{"errorType":"ValueError"}',
            None,
            {"ErrorCode": "ValueError", "ErrorDetails": '{"errorType":"ValueError"}'},
        ),
    ],
)
def test_invoke_complete_carries_only_the_members_it_has(
    code: str | None, details: str | None, log: str | None, expected: dict[str, str]
) -> None:
    ((headers, payload),) = parsed(eventstream.invoke_complete(code, details, log))
    assert headers[":event-type"] == "InvokeComplete"
    assert headers[":content-type"] == "application/json"
    assert json.loads(payload) == expected


def test_boto3_reads_the_stream_as_invoke_with_response_stream_events() -> None:
    import botocore.session
    from botocore.eventstream import EventStream
    from botocore.model import StructureShape
    from botocore.parsers import EventStreamJSONParser

    model = botocore.session.get_session().get_service_model("lambda")
    output = model.operation_model("InvokeWithResponseStream").output_shape
    assert output is not None
    shape = output.members["EventStream"]
    assert isinstance(shape, StructureShape)
    body = b"".join(eventstream.payload_chunks(b"abc")) + eventstream.invoke_complete("E", "d", None)

    class Raw:
        def __init__(self) -> None:
            self._chunks = [body[:7], body[7:]]

        def stream(self) -> list[bytes]:
            return self._chunks

    stream: EventStream[dict[str, Any]] = EventStream(
        Raw(), shape, EventStreamJSONParser(), "InvokeWithResponseStream"
    )
    events = list(stream)
    assert events == [
        {"PayloadChunk": {"Payload": b"abc"}},
        {"InvokeComplete": {"ErrorCode": "E", "ErrorDetails": "d"}},
    ]


def test_events_decode_with_their_headers_and_payload() -> None:
    data = eventstream.json_event("initial-response", {}) + eventstream.json_event(
        "sessionUpdate", {"a": [1, "é"]}
    )
    (first_headers, first), (headers, payload) = parsed(data)
    assert first_headers[":event-type"] == "initial-response" and json.loads(first) == {}
    assert headers == {
        ":message-type": "event",
        ":event-type": "sessionUpdate",
        ":content-type": "application/json",
    }
    assert json.loads(payload) == {"a": [1, "é"]}


def test_exceptions_carry_their_type_and_message() -> None:
    [(headers, payload)] = parsed(eventstream.exception("SessionTimeoutException", "done"))
    assert headers[":message-type"] == "exception"
    assert headers[":exception-type"] == "SessionTimeoutException"
    assert json.loads(payload) == {"message": "done"}
