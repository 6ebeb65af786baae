"""Callbacks of durable executions, pure: a CALLBACK operation from its START to the answer an
outside system sends (SendDurableExecutionCallbackSuccess / Failure), or its time-out.

::

    START      -> STARTED, CallbackDetails.CallbackId      CallbackStarted (Timeout, HeartbeatTimeout)
    success    -> SUCCEEDED, CallbackDetails.Result        CallbackSucceeded
    failure    -> FAILED, CallbackDetails.Error            CallbackFailed
    time-out   -> TIMED_OUT                                CallbackTimedOut
    heartbeat  -> (STARTED) the heartbeat time-out counts again from now

``CallbackOptions.TimeoutSeconds`` bounds the whole wait, ``HeartbeatTimeoutSeconds`` the time
between heartbeats (0 or absent: none, as the SDK documents). Those deadlines are kept on the
operation in members of Flare's own, named with a leading ``_``, which ``public`` leaves out of
everything the SDK and the API see.

A callback id names its execution and operation (``callback_id``: base64 of both, as the model's
pattern wants), so an answer needs no index to find them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from flare.durable.records import Event, Operation, operation_event
from flare.errors import CallbackTimeout, InvalidParameterValue, ResourceNotFound

TIMEOUT_AT = "_TimeoutAt"
HEARTBEAT_S = "_HeartbeatSeconds"
HEARTBEAT_AT = "_HeartbeatAt"


def callback_id(arn: str, operation_id: str) -> str:
    return base64.b64encode(json.dumps([arn, operation_id], separators=(",", ":")).encode()).decode()


def parse_callback_id(callback: str) -> tuple[str, str]:
    """(execution ARN, operation id) of a callback id. Raises ResourceNotFound."""
    try:
        arn, operation_id = json.loads(base64.b64decode(callback, validate=True))
    except (ValueError, TypeError):
        raise ResourceNotFound(f"Callback not found: {callback}.") from None
    return str(arn), str(operation_id)


def public(operation: Operation) -> Operation:
    """``operation`` without Flare's own members."""
    return {key: value for key, value in operation.items() if not key.startswith("_")}


def start(operation: Operation, update: dict[str, Any], arn: str, now: float) -> dict[str, Any]:
    """Make ``operation`` (already STARTED by the caller) a callback waiting for its answer;
    the CallbackStarted event's details."""
    options = update.get("CallbackOptions") or {}
    timeout = int(options.get("TimeoutSeconds") or 0)
    heartbeat = int(options.get("HeartbeatTimeoutSeconds") or 0)
    operation["CallbackDetails"] = {"CallbackId": callback_id(arn, operation["Id"])}
    if timeout:
        operation[TIMEOUT_AT] = now + timeout
    if heartbeat:
        operation[HEARTBEAT_S] = heartbeat
        operation[HEARTBEAT_AT] = now
    return {
        "CallbackId": operation["CallbackDetails"]["CallbackId"],
        "Timeout": timeout,
        "HeartbeatTimeout": heartbeat,
    }


def due(operation: Operation) -> float | None:
    """When a waiting callback times out (None: never)."""
    if operation["Status"] != "STARTED":
        return None
    deadlines = [float(operation[TIMEOUT_AT])] if TIMEOUT_AT in operation else []
    if HEARTBEAT_S in operation:
        deadlines.append(float(operation[HEARTBEAT_AT]) + float(operation[HEARTBEAT_S]))
    return min(deadlines) if deadlines else None


def waiting(operation: Operation | None, callback: str) -> Operation:
    """``operation`` if it is a callback still waiting for its answer. Raises
    ResourceNotFound (none), CallbackTimeout (it timed out), InvalidParameterValue (it has its
    answer already)."""
    if operation is None or operation.get("Type") != "CALLBACK":
        raise ResourceNotFound(f"Callback not found: {callback}.")
    if operation["Status"] == "TIMED_OUT":
        raise CallbackTimeout(f"Callback {callback} has timed out.")
    if operation["Status"] != "STARTED":
        raise InvalidParameterValue(f"Callback {callback} has already ended ({operation['Status']}).")
    return operation


def answer(
    operation: Operation, result: str | None, error: dict[str, Any] | None, now: float
) -> tuple[Operation, Event]:
    """The callback answered: SUCCEEDED with ``result``, or FAILED with ``error``."""
    answered = dict(operation)
    details = dict(operation.get("CallbackDetails") or {})
    if error is not None:
        answered["Status"], details["Error"], kind = "FAILED", error, "CallbackFailed"
        event_details: dict[str, Any] = {"Error": {"Payload": error, "Truncated": False}}
    else:
        answered["Status"], kind = "SUCCEEDED", "CallbackSucceeded"
        if result is not None:
            details["Result"] = result
        event_details = {"Result": {"Payload": result, "Truncated": False} if result is not None else {}}
    answered["CallbackDetails"] = details
    answered["EndTimestamp"] = now
    return answered, operation_event(answered, kind, event_details, now)


def heartbeat(operation: Operation, now: float) -> Operation:
    beating = dict(operation)
    if HEARTBEAT_S in beating:
        beating[HEARTBEAT_AT] = now
    return beating


TIMED_OUT = "Callback.Timeout"  # the error types AWS records (its conformance requirements)
NO_HEARTBEAT = "Callback.Heartbeat"


def time_out(operation: Operation, now: float) -> tuple[Operation, Event]:
    late = TIMEOUT_AT in operation and float(operation[TIMEOUT_AT]) <= now
    message = "Callback timed out" if late else "Callback timed out: no heartbeat"
    error = {"ErrorType": TIMED_OUT if late else NO_HEARTBEAT, "ErrorMessage": message}
    timed_out = dict(operation)
    timed_out["Status"], timed_out["EndTimestamp"] = "TIMED_OUT", now
    timed_out["CallbackDetails"] = {**(operation.get("CallbackDetails") or {}), "Error": error}
    return timed_out, operation_event(
        timed_out, "CallbackTimedOut", {"Error": {"Payload": error, "Truncated": False}}, now
    )
