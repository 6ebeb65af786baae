"""Partial batch responses (``FunctionResponseTypes: ["ReportBatchItemFailures"]``), parsed purely.

The function answers ``{"batchItemFailures": [{"itemIdentifier": "<id>"}, ...]}``, ids being SQS
message ids or Kinesis sequence numbers. ``failed_items`` returns the failed ids, an empty set
for complete success (an empty or null list, an empty or null response, a response without the
key), or None for complete failure (invalid JSON, an item that is not an object, an empty, null
or unknown ``itemIdentifier``, or a bad key name).
"""

from __future__ import annotations

import json
from collections.abc import Collection


def failed_items(payload: str | bytes, known: Collection[str]) -> set[str] | None:
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
    if not text.strip():
        return set()
    try:
        response = json.loads(text)
    except ValueError:
        return None
    if not isinstance(response, dict):
        return set()
    items = response.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or set(item) != {"itemIdentifier"}:
            return None
        identifier = item["itemIdentifier"]
        if not isinstance(identifier, str) or not identifier or identifier not in known:
            return None
        failed.add(identifier)
    return failed
