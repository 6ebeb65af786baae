"""The target of a chained invoke (``chained``), invoked: a durable function as a durable
execution of its own, whose end is awaited; any other function as one synchronous invoke
through the router (a throttle is tried again a second later, on the engine's clock).

``call`` answers ``(result, error)``: the target's JSON answer, or an ErrorObject (its function
error, its execution's error, or why it could not be invoked).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from flare.clock import Clock
from flare.control.model import FunctionVersion
from flare.control.registry import Registry
from flare.durable import chained
from flare.errors import FlareError, TooManyRequests
from flare.ids import new_request_id, new_trace_id
from flare.placement.router import Router
from flare.sandbox.invocation import Invocation
from flare.store.durable import ExecutionRow

THROTTLE_RETRY_S = 1.0
Outcome = tuple[str | None, dict[str, Any] | None]
StartChild = Callable[[FunctionVersion, bytes], str]
"""Start a durable execution of a durable target with a payload; its ARN."""
AwaitChild = Callable[[str], Awaitable[ExecutionRow]]
"""The child execution of an ARN, once it has ended."""


async def call(
    operation: dict[str, Any],
    registry: Registry,
    router: Router,
    clock: Clock,
    start_child: StartChild,
    await_child: AwaitChild,
) -> Outcome:
    """Invoke ``operation``'s target and wait for its answer (see the module docstring). A
    durable target's child ARN is set on ``operation`` (``chained.CHILD``) before it is awaited:
    the caller keeps it, so a restart awaits the same child."""
    try:
        version, invoked_arn = registry.resolve_invocation(str(operation[chained.TARGET]), None)
        payload = str(operation[chained.INPUT]).encode()
        if version.durable_timeout_s is not None:
            child = operation.get(chained.CHILD) or start_child(version, payload)
            operation[chained.CHILD] = child
            return _child_outcome(await await_child(str(child)))
        return await _invoke(version, invoked_arn, payload, router, clock)
    except FlareError as error:
        return None, {"ErrorType": error.aws_name, "ErrorMessage": error.message}


async def _invoke(
    version: FunctionVersion, invoked_arn: str, payload: bytes, router: Router, clock: Clock
) -> Outcome:
    while True:
        trace_id = new_trace_id(clock.wall())
        invocation = Invocation(new_request_id(), payload, invoked_arn, trace_id, source="durable")
        try:
            async with router.invoke(version, invocation) as result:
                if result.function_error is None:
                    return result.payload.decode(errors="replace"), None
                return None, _function_error(result.payload, result.function_error)
        except TooManyRequests:
            await clock.sleep(THROTTLE_RETRY_S)


def _function_error(payload: bytes, function_error: str) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    if isinstance(body, dict) and "errorMessage" in body:
        return {
            "ErrorType": str(body.get("errorType", function_error)),
            "ErrorMessage": str(body["errorMessage"]),
        }
    return {"ErrorType": function_error, "ErrorMessage": payload.decode(errors="replace")}


def _child_outcome(row: ExecutionRow) -> Outcome:
    if row.status == "SUCCEEDED":
        return row.result, None
    error = json.loads(row.error) if row.error else {}
    return None, error or {
        "ErrorType": row.status,
        "ErrorMessage": f"The chained execution ended {row.status}.",
    }
