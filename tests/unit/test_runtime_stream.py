"""Flare's Python runtime streaming a handler's iterator as STREAM_* frames (its extension)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flare

sys.path.insert(0, str(Path(flare.__file__).parent / "runtimes"))
from lambda_python import bootstrap, frames

HEADER = {"id": "req-1", "deadline": 2**42, "arn": "arn:aws:lambda:us-east-1:000000000000:function:f"}


class Channel:
    def __init__(self) -> None:
        self.sent = bytearray()

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def frames(self) -> list[tuple[int, dict[str, Any], bytes]]:
        read: list[tuple[int, dict[str, Any], bytes]] = frames.FrameReader().feed(bytes(self.sent))
        return read


def streamed(items: Iterator[Any]) -> list[tuple[int, dict[str, Any], bytes]]:
    channel = Channel()
    bootstrap.send_stream(channel, "req-1", items)
    return channel.frames()


def test_each_item_is_a_chunk_between_start_and_end() -> None:
    sent = streamed(iter([b"one ", "two ", bytearray(b"three"), b""]))
    assert [kind for kind, _, _ in sent] == [frames.STREAM_START] + [frames.STREAM_CHUNK] * 3 + [
        frames.STREAM_END
    ]
    assert sent[0][1] == {"id": "req-1", "ct": "application/octet-stream"}
    assert b"".join(body for kind, _, body in sent if kind == frames.STREAM_CHUNK) == b"one two three"
    assert sent[-1][1]["id"] == "req-1" and "type" not in sent[-1][1]


def test_a_dict_first_is_the_http_head_sent_as_json_and_eight_nul_bytes() -> None:
    head = {"statusCode": 201, "headers": {"X-A": "b"}}
    sent = streamed(iter([head, "body"]))
    assert sent[0][1]["ct"] == "application/vnd.awslambda.http-integration-response"
    assert sent[1][2] == json.dumps(head).encode() + bytes(8)
    assert sent[2][2] == b"body"


def test_a_handler_failing_before_its_first_item_fails_like_a_buffered_one() -> None:
    def failing() -> Iterator[bytes]:
        raise ValueError("early")
        yield b""

    ((kind, header, body),) = streamed(failing())
    assert kind == frames.ERROR and header["id"] == "req-1"
    assert json.loads(body)["errorType"] == "ValueError"


@pytest.mark.parametrize(("item", "error_type"), [(RuntimeError("late"), "RuntimeError"), (42, "TypeError")])
def test_a_failure_mid_stream_ends_the_stream_with_the_error(item: Any, error_type: str) -> None:
    def items() -> Iterator[Any]:
        yield b"partial"
        if isinstance(item, Exception):
            raise item
        yield item

    sent = streamed(items())
    assert [kind for kind, _, _ in sent] == [frames.STREAM_START, frames.STREAM_CHUNK, frames.STREAM_END]
    _, header, body = sent[-1]
    assert header["type"] == error_type
    assert json.loads(body)["errorType"] == error_type


def test_invoke_hands_back_an_iterator_and_answers_anything_else_at_once() -> None:
    def handler(event: Any, context: Any) -> Any:
        return (piece for piece in event["pieces"]) if "pieces" in event else event

    stream = bootstrap.invoke(handler, HEADER, b'{"pieces": ["a"]}')
    assert list(stream) == ["a"]
    answer = bootstrap.invoke(handler, HEADER, b'{"x": 1}')
    ((kind, _, body),) = frames.FrameReader().feed(answer)
    assert kind == frames.RESPONSE and json.loads(body) == {"x": 1}
