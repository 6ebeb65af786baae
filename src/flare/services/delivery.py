"""How a receive delivers, as pure code: which messages it hands out and which it redrives,
and the receipt handles that name one receive of one message.

A receipt handle is URL-safe base64 of ``<message id>:<nonce>``; the nonce is new on every
receive and stored with the message, so the queue can tell the newest handle from a stale one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import replace

from flare.services.errors import ReceiptHandleIsInvalid
from flare.store.services import MessageRow


def plan_receive(
    rows: Iterable[MessageRow],
    now: float,
    visibility_timeout: int,
    dead_letter: tuple[str, int] | None,
    nonce: Callable[[], str],
) -> tuple[list[MessageRow], dict[str, str]]:
    """Decide what a receive does with each receivable row: deliver it (hidden until
    ``now + visibility_timeout``, its count one higher, a new receipt nonce) or, when that count
    would pass ``dead_letter``'s maxReceiveCount, move it to ``dead_letter``'s queue.
    Returns (delivered rows in their new state, {message id: dead-letter queue name})."""
    delivered: list[MessageRow] = []
    moves: dict[str, str] = {}
    for row in rows:
        count = row.receive_count + 1
        if dead_letter is not None and count > dead_letter[1]:
            moves[row.id] = dead_letter[0]
            continue
        delivered.append(
            replace(
                row,
                visible_at=now + visibility_timeout,
                receive_count=count,
                first_receive=row.first_receive if row.first_receive is not None else now,
                receipt=nonce(),
            )
        )
    return delivered, moves


def encode_receipt(message_id: str, nonce: str) -> str:
    return base64.urlsafe_b64encode(f"{message_id}:{nonce}".encode()).decode()


def decode_receipt(handle: str) -> tuple[str, str]:
    """(message id, nonce) of a receipt handle; raises ReceiptHandleIsInvalid."""
    try:
        message_id, nonce = base64.urlsafe_b64decode(handle.encode()).decode().split(":")
    except (ValueError, binascii.Error, UnicodeError):
        raise ReceiptHandleIsInvalid(
            f'The input receipt handle "{handle}" is not a valid receipt handle.'
        ) from None
    return message_id, nonce
