"""AWS's event-stream framing (``application/vnd.amazon.eventstream``), the encoding side.

One message is::

    [total length: u32][headers length: u32][prelude CRC32: u32]
    [headers][payload][message CRC32: u32]

big-endian, the prelude CRC over the first 8 bytes, the message CRC over everything before it.
A header is ``[name length: u8][name][type: u8 = 7, string][value length: u16][value]``.
botocore's ``EventStream`` decodes these. Two streams use them: InvokeWithResponseStream
(``PayloadChunk`` events carrying the function's bytes, then one ``InvokeComplete``) and the
Logs service's StartLiveTail (JSON events after an ``initial-response``). All functions here
are pure.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any
from zlib import crc32

CONTENT_TYPE = "application/vnd.amazon.eventstream"
MAX_CHUNK = 1024 * 1024
"""Bytes of the function's response per PayloadChunk (clients refuse payloads over 24 MB)."""
_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def encode_headers(headers: dict[str, str]) -> bytes:
    """The headers block: every value a string."""
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += bytes((len(raw_name),)) + raw_name + bytes((_STRING,))
        out += struct.pack(">H", len(raw_value)) + raw_value
    return bytes(out)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message, CRCs included."""
    block = encode_headers(headers)
    prelude = _PRELUDE.pack(12 + len(block) + len(payload) + 4, len(block))
    head = prelude + _CRC.pack(crc32(prelude))
    body = head + block + payload
    return body + _CRC.pack(crc32(body))


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """An ``event`` message."""
    return message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload
    )


def json_event(event_type: str, payload: dict[str, Any]) -> bytes:
    """An ``event`` message whose payload is JSON."""
    return event(event_type, json.dumps(payload, separators=(",", ":")).encode(), "application/json")


def exception(exception_type: str, text: str) -> bytes:
    """A modeled error ending the stream (e.g. ``SessionTimeoutException``)."""
    headers = {
        ":message-type": "exception",
        ":exception-type": exception_type,
        ":content-type": "application/json",
    }
    return message(headers, json.dumps({"message": text}).encode())


def payload_chunks(data: bytes) -> Iterator[bytes]:
    """``PayloadChunk`` events carrying ``data``, at most ``MAX_CHUNK`` bytes each (none for b"")."""
    for start in range(0, len(data), MAX_CHUNK):
        yield event("PayloadChunk", data[start : start + MAX_CHUNK], "application/octet-stream")


def invoke_complete(error_code: str | None, error_details: str | None, log_result: str | None) -> bytes:
    """The ``InvokeComplete`` event; members without a value are left out."""
    fields = {"ErrorCode": error_code, "ErrorDetails": error_details, "LogResult": log_result}
    body = {name: value for name, value in fields.items() if value is not None}
    return event("InvokeComplete", json.dumps(body).encode(), "application/json")
