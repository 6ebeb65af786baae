"""The shapes of durable executions as the SDK and the API see them, pure.

* ``execution_arn``: ``<function ARN>:<version>/durable-execution/<name>/<invocation id>``
  (botocore's ``DurableExecutionArn`` pattern); the last segment is the Id of the execution's
  own operation (type EXECUTION), as the SDK expects.
* ``invocation_event``: what the handler is invoked with (the SDK's
  ``DurableExecutionInvocationInput``): ``DurableExecutionArn``, ``CheckpointToken`` and
  ``InitialExecutionState`` (``Operations``, ``NextMarker``), whose timestamps are epoch
  milliseconds (the SDK reads them with ``from_json_dict``), unlike the API's epoch seconds,
  and ``UpdatedOperationIds`` (what the engine changed while the execution was suspended).
* ``outcome``: how the SDK reported the invocation (its ``DurableExecutionInvocationOutput``):
  ``{"Status": "SUCCEEDED", "Result": "<json>"}``, ``{"Status": "FAILED", "Error": {...}}`` or
  ``{"Status": "PENDING"}``. A function error (the wrapper raised, the runtime crashed or timed
  out) is an invocation error, which Lambda retries; a payload that is none of those is an
  invalid output, which fails the execution.
* ``new_token``: an opaque checkpoint token (base64, as the model's pattern wants).
"""

from __future__ import annotations

import base64
import enum
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from flare.control.model import FunctionVersion
from flare.durable import pauses
from flare.store.durable import ExecutionRow

Operation = dict[str, Any]
_MILLIS = (("StartTimestamp",), ("EndTimestamp",), ("StepDetails", "NextAttemptTimestamp"),
           ("WaitDetails", "ScheduledEndTimestamp"))  # fmt: skip


def execution_arn(function_arn: str, version: str, name: str, invocation_id: str) -> str:
    return f"{function_arn}:{version}/durable-execution/{name}/{invocation_id}"


def new_execution(version: FunctionVersion, name: str | None, payload: str, now: float) -> ExecutionRow:
    """A RUNNING execution of ``version`` started at ``now`` (named ``name``, else a UUID),
    due to time out after its ``DurableConfig.ExecutionTimeout``."""
    execution_name = name or str(uuid.uuid4())
    arn = execution_arn(version.function_arn, version.version, execution_name, str(uuid.uuid4()))
    deadline = now + (version.durable_timeout_s or 0)
    return ExecutionRow(
        arn,
        version.name,
        version.version,
        execution_name,
        "RUNNING",
        payload,
        None,
        None,
        now,
        None,
        deadline,
        retention=version.durable_retention_days,
    )


def invocation_id_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def new_token() -> str:
    return base64.b64encode(os.urandom(24)).decode()


def execution_operation(row: ExecutionRow) -> Operation:
    """The execution's own operation (type EXECUTION), whose details carry its input."""
    return {
        "Id": invocation_id_of(row.arn),
        "Type": "EXECUTION",
        "Name": row.name,
        "StartTimestamp": row.started,
        "Status": "STARTED",
        "ExecutionDetails": {"InputPayload": row.input},
    }


def in_millis(operation: Operation) -> Operation:
    """``operation`` with its timestamps in epoch milliseconds (the invocation event's unit)."""
    converted = json.loads(json.dumps(operation))
    for path in _MILLIS:
        holder = converted
        for key in path[:-1]:
            holder = holder.get(key) or {}
        if holder.get(path[-1]) is not None:
            holder[path[-1]] = round(float(holder[path[-1]]) * 1000)
    return dict(converted)


def invocation_event(
    arn: str, token: str, operations: list[Operation], next_marker: str, updated: list[str] | None = None
) -> bytes:
    """The SDK's ``DurableExecutionInvocationInput``; ``updated``: the operations the engine
    changed since the last invocation's input (``UpdatedOperationIds``)."""
    state = {"Operations": [in_millis(operation) for operation in operations], "NextMarker": next_marker}
    event = {"DurableExecutionArn": arn, "CheckpointToken": token, "InitialExecutionState": state}
    return json.dumps(event | {"UpdatedOperationIds": updated or []}).encode()


class Reported(enum.StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    INVOCATION_ERROR = "INVOCATION_ERROR"
    INVALID_OUTPUT = "INVALID_OUTPUT"


@dataclass(frozen=True)
class Outcome:
    reported: Reported
    result: str | None = None
    error: dict[str, Any] | None = None


def outcome(payload: bytes, function_error: str | None) -> Outcome:
    """How an invocation of a durable handler ended (see the module docstring)."""
    try:
        body = json.loads(payload) if payload else None
    except ValueError:
        body = None
    if function_error is not None:
        return Outcome(Reported.INVOCATION_ERROR, error=invocation_error(body, function_error))
    reported_by_sdk = (Reported.SUCCEEDED.value, Reported.FAILED.value, Reported.PENDING.value)
    if not isinstance(body, dict) or body.get("Status") not in reported_by_sdk:
        return Outcome(Reported.INVALID_OUTPUT, error=invocation_error(body, function_error))
    reported = Reported(body["Status"])
    error = body.get("Error")
    return Outcome(reported, body.get("Result"), error if isinstance(error, dict) else None)


def invocation_error(body: object, function_error: str | None) -> dict[str, Any]:
    """An ErrorObject for an invocation that ended without a durable outcome."""
    if isinstance(body, dict) and "errorMessage" in body:
        return {
            "ErrorType": str(body.get("errorType", function_error)),
            "ErrorMessage": str(body["errorMessage"]),
        }
    return {
        "ErrorType": function_error or "Runtime.InvalidDurableOutput",
        "ErrorMessage": "The durable handler's invocation did not report SUCCEEDED, FAILED or PENDING.",
    }


def describe(row: ExecutionRow, include_data: bool = True) -> dict[str, Any]:
    """GetDurableExecution's body for ``row``."""
    body: dict[str, Any] = {
        "DurableExecutionArn": row.arn,
        "DurableExecutionName": row.name,
        "FunctionArn": row.arn.split("/durable-execution/", 1)[0],
        "Status": row.status,
        "StartTimestamp": row.started,
        "Version": row.version,
        "ExecutionDataIncluded": include_data,
    }
    pause = pauses.of(row)
    if row.ended is not None:
        body["EndTimestamp"] = row.ended
    else:
        body["ExpectedExecutionTimeoutTimestamp"] = pauses.deadline(row, pause)
    if pause is not None:
        body["PauseDetails"] = pauses.details(pause, include_data)
    if include_data:
        body["InputPayload"] = row.input
        if row.result is not None:
            body["Result"] = row.result
        if row.error is not None:
            body["Error"] = json.loads(row.error)
    return body


def summary(row: ExecutionRow) -> dict[str, Any]:
    """ListDurableExecutionsByFunction's ``Execution`` for ``row``."""
    body = {key: value for key, value in describe(row, include_data=False).items() if key in _SUMMARY}
    return body


_SUMMARY = (
    "DurableExecutionArn",
    "DurableExecutionName",
    "FunctionArn",
    "Status",
    "StartTimestamp",
    "EndTimestamp",
)
