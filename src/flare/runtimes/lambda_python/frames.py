"""Length-prefixed frames: Flare's private channel between the engine and its Python runtime.

A frame is ``!IBI`` (total length of what follows the first 4 bytes, kind, header length), a
JSON header, then raw body bytes. The engine imports this module too, so it must stay
stdlib-only and Python 3.9-compatible (the engine passes its faster JSON codec in).

Kinds, engine → runtime: ``INVOKE``, ``GO`` (a restored environment may run its after-restore
hooks). Runtime → engine: ``READY`` (INIT or restore done, waiting for the first event),
``INIT_ERROR``, ``RESTORE_ERROR``, ``HELLO`` (a restored environment's first frame, carrying its
credentials), ``RESPONSE``, ``ERROR``, and a streamed response instead of ``RESPONSE``:
``STREAM_START`` (``{"id", "ct"}``: its content type), any number of ``STREAM_CHUNK`` (no
header, the body is the bytes), then ``STREAM_END`` (``{"id", "rss"}``, plus ``"type"`` and the
error payload as body when the handler failed mid-stream). Engine → zygote: ``SPAWN`` (with file
descriptors); zygote → engine: ``SPAWNED``, ``EXITED``.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Callable, Optional

INVOKE = 1
READY = 2
INIT_ERROR = 3
RESPONSE = 4
ERROR = 5
RESTORE_ERROR = 6
HELLO = 7
GO = 8
SPAWN = 10
SPAWNED = 11
EXITED = 12
STREAM_START = 13
STREAM_CHUNK = 14
STREAM_END = 15

Loads = Callable[[bytes], Any]
"""A JSON decoder: ``json.loads``, or the engine's faster one."""

PREFIX = struct.Struct("!IBI")
PREFIX_SIZE = PREFIX.size


def encode(kind: int, header: dict[str, Any] | None = None, body: bytes = b"") -> bytes:
    """One frame as bytes."""
    head = json.dumps(header, separators=(",", ":")).encode() if header else b""
    return pack(kind, head, body)


def pack(kind: int, head: bytes, body: bytes) -> bytes:
    """One frame from its JSON header's bytes and its body."""
    return PREFIX.pack(5 + len(head) + len(body), kind, len(head)) + head + body


def encode_result(request_id: str, rss_kb: int, body: bytes) -> bytes:
    """``encode(RESPONSE, {"id": request_id, "rss": rss_kb}, body)``, without the JSON encoder
    (the engine's request ids are UUIDs: nothing in them needs escaping)."""
    return pack(RESPONSE, ('{"id":"%s","rss":%d}' % (request_id, rss_kb)).encode(), body)


def decode_prefix(prefix: bytes) -> tuple[int, int, int]:
    """``(length of the rest, kind, header length)`` from the first ``PREFIX_SIZE`` bytes."""
    total, kind, head_len = PREFIX.unpack(prefix)
    return total - 5, kind, head_len


def split(
    rest: bytes, head_len: int, loads: Callable[[bytes], Any] = json.loads
) -> tuple[dict[str, Any], bytes]:
    """Header dict and body from the bytes after the prefix."""
    header = loads(rest[:head_len]) if head_len else {}
    return header, rest[head_len:]


MAX_HEAD = 64 * 1024
"""The largest JSON header a frame may carry; a larger one means the channel is corrupt."""


class FrameError(Exception):
    """Bytes that are no frame (a header past ``MAX_HEAD`` or longer than its frame): the
    channel cannot be read further."""


class FrameReader:
    """Incremental parser: ``feed(data)`` returns every complete ``(kind, header, body)``;
    ``loads`` decodes the JSON headers.

    With ``max_body``, memory stays bounded whatever the other end sends: a frame whose body
    is longer keeps only its first ``max_body + 1`` bytes (so the reader of the body still
    sees it was too long) and the rest is dropped as it arrives. Raises FrameError for bytes
    that are no frame."""

    def __init__(self, loads: Loads = json.loads, max_body: Optional[int] = None) -> None:
        self._buffer = bytearray()
        self._loads = loads
        self._max_body = max_body
        self._skip = 0  # bytes of an oversized frame's body still to drop
        self._held: Optional[tuple] = None  # type: ignore[type-arg]  # that frame, kept part

    def feed(self, data: bytes) -> list:  # type: ignore[type-arg]
        if not self._buffer and not self._skip and len(data) >= PREFIX_SIZE:
            single = self._single(data)
            if single is not None:
                return [single]
        frames = []
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
            if self._skip:
                return frames
            frames.append(self._held)
            self._held = None
        buffer = self._buffer
        buffer += data
        while len(buffer) >= PREFIX_SIZE:
            rest_len, kind, head_len = decode_prefix(bytes(buffer[:PREFIX_SIZE]))
            if head_len > MAX_HEAD or head_len > rest_len:
                raise FrameError(f"frame of {rest_len} bytes with a header of {head_len}")
            end = PREFIX_SIZE + rest_len
            if self._max_body is not None and rest_len - head_len > self._max_body + 1:
                kept = PREFIX_SIZE + head_len + self._max_body + 1
                if len(buffer) < kept:
                    break
                header, body = split(bytes(buffer[PREFIX_SIZE:kept]), head_len, self._loads)
                dropped = min(len(buffer), end)
                del buffer[:dropped]
                if dropped < end:  # the rest is still to come: drop it as it does
                    self._skip = end - dropped
                    self._held = (kind, header, body)
                    return frames
                frames.append((kind, header, body))
                continue
            if len(buffer) < end:
                break
            rest = bytes(buffer[PREFIX_SIZE:end])
            del buffer[:end]
            header, body = split(rest, head_len, self._loads)
            frames.append((kind, header, body))
        return frames

    def _single(self, data: bytes) -> Optional[tuple]:  # type: ignore[type-arg]
        """The usual read, parsed without buffering: ``data`` is exactly one whole frame that
        needs no cutting (None for anything else, which ``feed``'s general path takes)."""
        total, kind, head_len = PREFIX.unpack_from(data)
        if len(data) != total + 4 or head_len > MAX_HEAD or head_len > total - 5:
            return None
        if self._max_body is not None and total - 5 - head_len > self._max_body + 1:
            return None
        body_at = PREFIX_SIZE + head_len
        header = self._loads(data[PREFIX_SIZE:body_at]) if head_len else {}
        return kind, header, data[body_at:]


def recv_exact(sock: Any, size: int) -> bytes:
    """Blocking read of exactly ``size`` bytes; raises EOFError when the peer closes."""
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise EOFError("channel closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: Any) -> tuple[int, dict[str, Any], bytes]:
    """Blocking read of one frame."""
    rest_len, kind, head_len = decode_prefix(recv_exact(sock, PREFIX_SIZE))
    header, body = split(recv_exact(sock, rest_len), head_len)
    return kind, header, body
