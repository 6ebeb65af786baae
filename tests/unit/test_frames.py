"""Length-prefixed frames between engine and Python runtime: encoding and incremental parsing."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from flare.runtimes.lambda_python import frames

SAMPLES: list[tuple[int, dict[str, Any] | None, bytes]] = [
    (frames.INVOKE, {"requestId": "r-1", "deadlineMs": 1_767_225_603_000}, b'{"key": "value"}'),
    (frames.READY, None, b""),
    (frames.RESPONSE, {"requestId": "r-1"}, bytes(range(256)) * 3),
    (frames.ERROR, {"requestId": "r-2", "errorType": "ValueError"}, b"\x00\xff\n\r"),
    (frames.INIT_ERROR, {"unicode": "héllo ✓"}, b""),
    (frames.SPAWNED, {"pid": 4242}, b""),
    (frames.EXITED, None, b"\x00" * 10),
]


def expected(kind: int, header: dict[str, Any] | None, body: bytes) -> tuple[int, dict[str, Any], bytes]:
    return kind, header or {}, body


@pytest.mark.parametrize(("kind", "header", "body"), SAMPLES)
def test_encode_then_feed_round_trips_header_and_binary_body(
    kind: int, header: dict[str, Any] | None, body: bytes
) -> None:
    assert frames.FrameReader().feed(frames.encode(kind, header, body)) == [expected(kind, header, body)]


def test_prefix_states_length_kind_and_header_length() -> None:
    data = frames.encode(frames.INVOKE, {"a": 1}, b"xyz")
    head = b'{"a":1}'
    assert data == frames.PREFIX.pack(5 + len(head) + 3, frames.INVOKE, len(head)) + head + b"xyz"
    assert frames.decode_prefix(data[: frames.PREFIX_SIZE]) == (len(head) + 3, frames.INVOKE, len(head))


def test_frame_without_header_has_zero_header_length() -> None:
    data = frames.encode(frames.READY)
    assert data == frames.PREFIX.pack(5, frames.READY, 0)


def test_feeding_one_byte_at_a_time_yields_the_same_frames() -> None:
    stream = b"".join(frames.encode(*sample) for sample in SAMPLES)
    reader = frames.FrameReader()
    got = []
    for i in range(len(stream)):
        got += reader.feed(stream[i : i + 1])
    assert got == [expected(*sample) for sample in SAMPLES]


def test_several_frames_in_one_chunk_all_come_out_in_order() -> None:
    stream = b"".join(frames.encode(*sample) for sample in SAMPLES)
    assert frames.FrameReader().feed(stream) == [expected(*sample) for sample in SAMPLES]


def test_partial_frame_is_kept_until_the_rest_arrives() -> None:
    first = frames.encode(frames.RESPONSE, {"requestId": "a"}, b"one")
    second = frames.encode(frames.RESPONSE, {"requestId": "b"}, b"two")
    reader = frames.FrameReader()
    cut = len(first) + 7
    assert reader.feed((first + second)[:cut]) == [(frames.RESPONSE, {"requestId": "a"}, b"one")]
    assert reader.feed(b"") == []
    assert reader.feed((first + second)[cut:]) == [(frames.RESPONSE, {"requestId": "b"}, b"two")]


def test_empty_feed_yields_nothing() -> None:
    assert frames.FrameReader().feed(b"") == []


def test_recv_frame_reads_frames_over_a_real_socketpair() -> None:
    left, right = socket.socketpair()
    with left, right:
        big = bytes(range(256)) * 4096
        sender = threading.Thread(
            target=lambda: left.sendall(
                frames.encode(frames.INVOKE, {"requestId": "r"}, big) + frames.encode(frames.READY)
            )
        )
        sender.start()
        try:
            assert frames.recv_frame(right) == (frames.INVOKE, {"requestId": "r"}, big)
            assert frames.recv_frame(right) == (frames.READY, {}, b"")
        finally:
            sender.join(timeout=5)


@pytest.mark.parametrize("cut", [0, 3, frames.PREFIX_SIZE, frames.PREFIX_SIZE + 4])
def test_recv_frame_raises_eof_when_the_peer_closes_mid_frame(cut: int) -> None:
    left, right = socket.socketpair()
    with right:
        with left:
            left.sendall(frames.encode(frames.RESPONSE, {"requestId": "r"}, b"body")[:cut])
        with pytest.raises(EOFError):
            frames.recv_frame(right)


def test_recv_exact_joins_short_reads() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"ab")
        left.sendall(b"cd")
        left.shutdown(socket.SHUT_WR)
        assert frames.recv_exact(right, 4) == b"abcd"
        with pytest.raises(EOFError):
            frames.recv_exact(right, 1)


def test_encode_result_is_the_response_frame_encode_makes() -> None:
    request_id = "0b1c2d3e-aaaa-4bbb-8ccc-123456789abc"
    assert frames.encode_result(request_id, 5120, b'{"ok": true}') == frames.encode(
        frames.RESPONSE, {"id": request_id, "rss": 5120}, b'{"ok": true}'
    )


def test_the_engines_invoke_frame_decodes_with_the_runtimes_standard_json() -> None:
    from flare.sandbox.channel import invoke_frame
    from flare.sandbox.invocation import Invocation

    plain = Invocation("r-1", b'{"a": 1}', "arn:aws:lambda:us-east-1:000000000000:function:f", "Root=1-x")
    context = '{"custom": {"big": 123456789012345678901234567890, "text": "h\u00e9"}}'
    with_context = Invocation("r-2", b"{}", plain.invoked_arn, "Root=1-y", client_context=context)
    reader = frames.FrameReader()  # the runtime's side: json.loads
    [(kind, header, body), (_, header2, _)] = reader.feed(
        invoke_frame(plain, 1_767_225_603_000) + invoke_frame(with_context, 7)
    )
    assert (kind, body) == (frames.INVOKE, b'{"a": 1}')
    assert header == {
        "id": "r-1",
        "deadline": 1_767_225_603_000,
        "arn": plain.invoked_arn,
        "trace": "Root=1-x",
    }
    assert header2["client_context"] == {"custom": {"big": 123456789012345678901234567890, "text": "hé"}}


def test_a_body_past_max_body_is_cut_and_the_next_frame_still_reads() -> None:
    big = frames.encode(frames.RESPONSE, {"id": "a"}, b"x" * 1000)
    after = frames.encode(frames.READY)
    reader = frames.FrameReader(max_body=100)
    assert reader.feed(big + after) == [(frames.RESPONSE, {"id": "a"}, b"x" * 101), (frames.READY, {}, b"")]


def test_an_oversized_frame_in_pieces_is_dropped_as_it_comes() -> None:
    big = frames.encode(frames.RESPONSE, {"id": "a"}, b"y" * 100_000)
    after = frames.encode(frames.ERROR, {"id": "b"}, b"e")
    reader = frames.FrameReader(max_body=10)
    got = []
    for start in range(0, len(big + after), 997):
        got += reader.feed((big + after)[start : start + 997])
        assert len(reader._buffer) <= 997 + 64  # never more than a piece and a head held
    assert got == [(frames.RESPONSE, {"id": "a"}, b"y" * 11), (frames.ERROR, {"id": "b"}, b"e")]


def test_a_body_one_past_max_body_is_kept_whole() -> None:
    exact = frames.encode(frames.RESPONSE, {}, b"z" * 11)
    assert frames.FrameReader(max_body=10).feed(exact) == [(frames.RESPONSE, {}, b"z" * 11)]


@pytest.mark.parametrize(
    "prefix",
    [
        frames.PREFIX.pack(5 + frames.MAX_HEAD + 1, frames.RESPONSE, frames.MAX_HEAD + 1),  # a huge header
        frames.PREFIX.pack(5 + 10, frames.RESPONSE, 20),  # a header longer than its frame
    ],
)
def test_bytes_that_are_no_frame_are_refused(prefix: bytes) -> None:
    with pytest.raises(frames.FrameError):
        frames.FrameReader(max_body=10).feed(prefix)
