"""Invoke of a durable function: it starts (or, by ``X-Amz-Durable-Execution-Name``, finds) a
durable execution instead of running the handler once.

``Event``: 202 once the execution exists, with ``X-Amz-Durable-Execution-Arn``; it runs in the
background. ``RequestResponse``: the answer waits until the execution ends, then carries its
result (SUCCEEDED), or its error as a function error (``X-Amz-Function-Error: Unhandled`` and
``errorType`` / ``errorMessage``) when it FAILED, TIMED_OUT or was STOPPED.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from flare.api.wire import REQUEST_ID_HEADER
from flare.control.model import FunctionVersion
from flare.durable.executions import DurableExecutions
from flare.durable.status import Status
from flare.ids import new_request_id
from flare.store.durable import ExecutionRow

ARN_HEADER = "X-Amz-Durable-Execution-Arn"
NAME_HEADER = "x-amz-durable-execution-name"


async def invoke_durable(
    executions: DurableExecutions,
    version: FunctionVersion,
    invocation_type: str,
    headers: Mapping[str, str],
    payload: bytes,
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the answer (see the module docstring). Raises
    DurableExecutionAlreadyStarted."""
    synchronous = invocation_type != "Event"
    row, _ = executions.start_execution(version, headers.get(NAME_HEADER), payload, synchronous)
    answer = {REQUEST_ID_HEADER: new_request_id(), ARN_HEADER: row.arn}
    if invocation_type == "Event":
        return 202, answer, b""
    row = await executions.wait_for(row.arn)
    answer |= {"X-Amz-Executed-Version": row.version, "Content-Type": "application/json"}
    if row.status == Status.SUCCEEDED:
        return 200, answer, (row.result or "null").encode()
    return 200, answer | {"X-Amz-Function-Error": "Unhandled"}, _error_payload(row)


def _error_payload(row: ExecutionRow) -> bytes:
    error = json.loads(row.error) if row.error else {}
    return json.dumps(
        {
            "errorType": error.get("ErrorType", row.status),
            "errorMessage": error.get("ErrorMessage", row.status),
        }
    ).encode()
