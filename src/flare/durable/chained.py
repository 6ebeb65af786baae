"""Chained invokes of durable executions (``context.invoke``), pure: a CHAINED_INVOKE operation
from its START to the end of the function it invokes.

::

    START    -> STARTED                          ChainedInvokeStarted (FunctionName, Input)
    success  -> SUCCEEDED, ChainedInvokeDetails.Result (the target's JSON answer)
                                                 ChainedInvokeSucceeded
    failure  -> FAILED, ChainedInvokeDetails.Error      ChainedInvokeFailed

The target is named by ``ChainedInvokeOptions.FunctionName`` (a name, ARN or ``name:qualifier``)
and invoked with the update's ``Payload``: a durable target runs as a durable execution of its
own, whose ARN the operation keeps (``CHILD``), any other as one synchronous invoke. What to
invoke and the child's ARN are kept on the operation in members of Flare's own (``_``-named:
``callbacks.public`` leaves them out).
"""

from __future__ import annotations

from typing import Any

from flare.durable.records import Event, Operation, operation_event

TARGET = "_Target"
INPUT = "_Input"
CHILD = "_Child"


def start(operation: Operation, update: dict[str, Any]) -> dict[str, Any]:
    """Make ``operation`` (STARTED by the caller) a chained invoke of its target; the
    ChainedInvokeStarted event's details."""
    target = str((update.get("ChainedInvokeOptions") or {}).get("FunctionName", ""))
    operation[TARGET] = target
    operation[INPUT] = update.get("Payload") or "{}"
    return {"FunctionName": target, "Input": {"Payload": operation[INPUT], "Truncated": False}}


def pending(operation: Operation) -> bool:
    """Whether ``operation`` is a chained invoke whose target has not answered yet."""
    return operation.get("Type") == "CHAINED_INVOKE" and operation.get("Status") == "STARTED"


def finish(
    operation: Operation, result: str | None, error: dict[str, Any] | None, now: float
) -> tuple[Operation, Event]:
    """The target answered: SUCCEEDED with ``result`` (JSON text), or FAILED with ``error``."""
    ended = dict(operation)
    ended["EndTimestamp"] = now
    if error is not None:
        ended["Status"], kind = "FAILED", "ChainedInvokeFailed"
        ended["ChainedInvokeDetails"] = {"Error": error}
        details: dict[str, Any] = {"Error": {"Payload": error, "Truncated": False}}
    else:
        ended["Status"], kind = "SUCCEEDED", "ChainedInvokeSucceeded"
        ended["ChainedInvokeDetails"] = {"Result": result} if result is not None else {}
        details = {"Result": {"Payload": result, "Truncated": False}} if result is not None else {}
    return ended, operation_event(ended, kind, details, now)
