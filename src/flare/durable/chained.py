"""Chained invokes of durable executions (``context.invoke``), pure: a CHAINED_INVOKE operation
from its START to the end of the function it invokes.

::

    START    -> STARTED                          ChainedInvokeStarted (FunctionName, Input)
    success  -> SUCCEEDED, ChainedInvokeDetails.Result (the target's JSON answer)
                                                 ChainedInvokeSucceeded
    failure  -> FAILED, ChainedInvokeDetails.Error      ChainedInvokeFailed
    a durable target TIMED_OUT -> TIMED_OUT, Error ChainedInvoke.Timeout
                                                 ChainedInvokeTimedOut
    a durable target STOPPED   -> STOPPED, Error the stop's      ChainedInvokeStopped

The target is named by ``ChainedInvokeOptions.FunctionName`` (a name, ARN or ``name:qualifier``)
and invoked with the update's ``Payload`` (for ``ChainedInvokeOptions.TenantId``, if given): a
durable target runs as a durable execution of its
own, whose ARN the operation keeps (``CHILD``), any other as one synchronous invoke. What to
invoke and the child's ARN are kept on the operation in members of Flare's own (``_``-named:
``callbacks.public`` leaves them out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flare.durable.records import Event, Operation, operation_event

TARGET = "_Target"
INPUT = "_Input"
CHILD = "_Child"
TENANT = "_TenantId"
_EVENTS = {
    "SUCCEEDED": "ChainedInvokeSucceeded",
    "FAILED": "ChainedInvokeFailed",
    "TIMED_OUT": "ChainedInvokeTimedOut",
    "STOPPED": "ChainedInvokeStopped",
}


@dataclass(frozen=True)
class Answer:
    """How a target answered: ``status`` (a key of ``_EVENTS``), its JSON ``result`` when it
    SUCCEEDED, else its ``error`` (an ErrorObject)."""

    status: str
    result: str | None = None
    error: dict[str, Any] | None = None


def start(operation: Operation, update: dict[str, Any]) -> dict[str, Any]:
    """Make ``operation`` (STARTED by the caller) a chained invoke of its target; the
    ChainedInvokeStarted event's details."""
    options = update.get("ChainedInvokeOptions") or {}
    target = str(options.get("FunctionName", ""))
    operation[TARGET] = target
    operation[INPUT] = update.get("Payload") or "{}"
    if options.get("TenantId"):
        operation[TENANT] = str(options["TenantId"])
    details: dict[str, Any] = {"FunctionName": target}
    if TENANT in operation:
        details["TenantId"] = operation[TENANT]
    return details | {"Input": {"Payload": operation[INPUT], "Truncated": False}}


def pending(operation: Operation) -> bool:
    """Whether ``operation`` is a chained invoke whose target has not answered yet."""
    return operation.get("Type") == "CHAINED_INVOKE" and operation.get("Status") == "STARTED"


def finish(operation: Operation, answer: Answer, now: float) -> tuple[Operation, Event]:
    """The target answered: the operation ends with ``answer``'s status and its result or
    error, with the event of that status."""
    ended = dict(operation)
    ended["EndTimestamp"] = now
    ended["Status"] = answer.status
    details: dict[str, Any] = {}
    if answer.status == "SUCCEEDED":
        ended["ChainedInvokeDetails"] = {"Result": answer.result} if answer.result is not None else {}
        if answer.result is not None:
            details = {"Result": {"Payload": answer.result, "Truncated": False}}
    else:
        error = answer.error or {}
        ended["ChainedInvokeDetails"] = {"Error": error}
        details = {"Error": {"Payload": error, "Truncated": False}}
    return ended, operation_event(ended, _EVENTS[answer.status], details, now)
