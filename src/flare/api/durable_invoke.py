"""Invoke of a durable function: it starts (or, by ``X-Amz-Durable-Execution-Name``, finds) a
durable execution instead of running the handler once.

``Event``: 202 once the execution exists, with ``X-Amz-Durable-Execution-Arn``; its first
invocation is an event of the asynchronous invocation queue (``AsyncQueue``: its throttle
backoff, event age, OnSuccess/OnFailure destinations and dead-letter queue), written in the
execution's own transaction. ``RequestResponse``: the answer waits until the execution ends, then carries its
result (SUCCEEDED), or its error as a function error (``X-Amz-Function-Error: Unhandled`` and
``errorType`` / ``errorMessage``) when it FAILED, TIMED_OUT or was STOPPED.

AWS limits a synchronous invoke of a durable function to 15 minutes, "or less if the function
timeout or execution timeout is lower" (the guide, "Invoking durable Lambda functions"): past
``sync_cap`` of the engine's clock the caller gets a timeout, as a function error
(``Sandbox.Timedout``, "Task timed out after N seconds", the words of Lambda's own timeouts),
and the execution goes on running.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from flare.api.wire import REQUEST_ID_HEADER
from flare.control.model import FunctionVersion
from flare.durable.executions import DurableExecutions
from flare.durable.status import Status
from flare.events.async_queue import AsyncQueue
from flare.ids import new_request_id
from flare.observe.report import timeout_message
from flare.store.durable import ExecutionRow

ARN_HEADER = "X-Amz-Durable-Execution-Arn"
MAX_SYNC_S = 900
NAME_HEADER = "x-amz-durable-execution-name"


async def invoke_durable(
    executions: DurableExecutions,
    queue: AsyncQueue,
    version: FunctionVersion,
    invoked: tuple[str | None, str],
    invocation_type: str,
    headers: Mapping[str, str],
    payload: bytes,
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the answer (see the module docstring); ``invoked`` is the
    qualifier and ARN the function was invoked by. Raises DurableExecutionAlreadyStarted."""
    request_id, name = new_request_id(), headers.get(NAME_HEADER)
    answer = {REQUEST_ID_HEADER: request_id}
    if invocation_type == "Event":
        with executions.transaction():
            row, new = executions.start_execution(version, name, payload, queued=request_id)
            if new:
                queue.submit(version, invoked[0], invoked[1], payload, request_id=request_id)
        return 202, answer | {ARN_HEADER: row.arn}, b""
    row, _ = executions.start_execution(version, name, payload, synchronous=True)
    answer[ARN_HEADER] = row.arn
    cap = sync_cap(version)
    found = await executions.wait_at_most(row.arn, cap)
    answer |= {"X-Amz-Executed-Version": row.version, "Content-Type": "application/json"}
    if found is None:
        timed_out = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": timeout_message(answer[REQUEST_ID_HEADER], cap),
        }
        return 200, answer | {"X-Amz-Function-Error": "Unhandled"}, json.dumps(timed_out).encode()
    row = found
    if row.status == Status.SUCCEEDED:
        return 200, answer, (row.result or "null").encode()
    return 200, answer | {"X-Amz-Function-Error": "Unhandled"}, _error_payload(row)


def sync_cap(version: FunctionVersion) -> float:
    """How long a synchronous invoke of ``version`` waits for its execution: 15 minutes, or the
    function's timeout or the execution's, if lower."""
    return float(min(MAX_SYNC_S, version.timeout_s, version.durable_timeout_s or MAX_SYNC_S))


def _error_payload(row: ExecutionRow) -> bytes:
    error = json.loads(row.error) if row.error else {}
    return json.dumps(
        {
            "errorType": error.get("ErrorType", row.status),
            "errorMessage": error.get("ErrorMessage", row.status),
        }
    ).encode()
