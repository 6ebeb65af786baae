"""The size limits of durable executions' payloads, pure (botocore's model: ``OperationUpdate``,
``ErrorObject``, ``SendDurableExecutionCallbackSuccess``):

* an update's ``Payload``: 6 MB for the EXECUTION's own update of an execution a synchronous
  (RequestResponse) invoke started, 1 MB for every other (an Event-started EXECUTION, STEP,
  CONTEXT, WAIT, CALLBACK, CHAINED_INVOKE);
* an ``Error``: its fields together at most 1 MB;
* a callback's result (``SendDurableExecutionCallbackSuccess``): 1 MB.

Sizes are UTF-8 bytes. Too large is InvalidParameterValue, and nothing of the request is kept.
The execution's input is limited by Invoke itself (6 MB synchronous, 1 MB Event).
"""

from __future__ import annotations

import json
from typing import Any

from flare.errors import InvalidParameterValue

MB = 1_048_576
SYNC_EXECUTION_MB = 6


def check_updates(updates: list[dict[str, Any]], synchronous: bool) -> None:
    """Raise InvalidParameterValue for the first update whose payload or error is too large."""
    for update in updates:
        kind = str(update.get("Type"))
        limit = SYNC_EXECUTION_MB * MB if kind == "EXECUTION" and synchronous else MB
        payload = update.get("Payload")
        if payload is not None and len(str(payload).encode()) > limit:
            raise InvalidParameterValue(
                f"{kind} payload size must be less than or equal to {limit} bytes "
                f"(operation {update.get('Id')})."
            )
        check_error(update.get("Error"))


def check_error(error: dict[str, Any] | None) -> None:
    """Raise InvalidParameterValue when ``error``'s fields together pass 1 MB."""
    if error is None:
        return
    size = sum(len(json.dumps(value).encode()) for value in error.values())
    if size > MB:
        raise InvalidParameterValue(f"Error object size must be less than or equal to {MB} bytes.")


def check_callback_result(result: bytes) -> None:
    if len(result) > MB:
        raise InvalidParameterValue(f"Callback result size must be less than or equal to {MB} bytes.")
