"""AWS's event-stream framing (``application/vnd.amazon.eventstream``), the encoding side.

One message: a prelude (total length, headers length: big-endian uint32 each), the prelude's
CRC32, the headers, the payload, and the CRC32 of everything before it. A header is its name's
length (one byte), the name, a value type (7: string), the value's length (uint16) and the
value. botocore's ``EventStream`` decodes these; streaming JSON-protocol responses start with an
``initial-response`` event.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

STRING = 7
CONTENT_TYPE = "application/vnd.amazon.eventstream"


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One encoded message."""
    encoded = b"".join(
        struct.pack("!B", len(name.encode()))
        + name.encode()
        + struct.pack("!BH", STRING, len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    body = prelude + struct.pack("!I", zlib.crc32(prelude)) + encoded + payload
    return body + struct.pack("!I", zlib.crc32(body))


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    """An ``event`` message whose payload is JSON."""
    headers = {":message-type": "event", ":event-type": event_type, ":content-type": "application/json"}
    return message(headers, json.dumps(payload, separators=(",", ":")).encode())


def exception(exception_type: str, text: str) -> bytes:
    """A modeled error ending the stream (e.g. ``SessionTimeoutException``)."""
    headers = {
        ":message-type": "exception",
        ":exception-type": exception_type,
        ":content-type": "application/json",
    }
    return message(headers, json.dumps({"message": text}).encode())
