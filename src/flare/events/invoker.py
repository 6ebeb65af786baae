"""One synchronous try of a function on behalf of an event source, as an ``Outcome``.

Pollers and the async queue all end here: resolve the function again (it may have changed or
gone), run the payload through the router like a synchronous invoke, and classify what came
back: success, function error (``X-Amz-Function-Error``), throttle (``TooManyRequests``) or
system error (any other ``FlareError``: no environment, internal failure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flare.clock import Clock
from flare.control.registry import Registry
from flare.errors import FlareError, ResourceNotFound, TooManyRequests
from flare.events.retry import Outcome
from flare.ids import new_request_id, new_trace_id
from flare.placement.router import Router
from flare.sandbox.invocation import Invocation


@dataclass(frozen=True)
class Attempt:
    """How one try ended. ``response`` holds ``statusCode``, ``executedVersion`` (when it ran),
    ``functionError`` (when it failed) and ``payload`` (text), as destination records use them."""

    outcome: Outcome
    response: dict[str, Any]
    request_id: str

    @property
    def payload(self) -> str:
        return str(self.response.get("payload", ""))


def error_response(error: FlareError) -> dict[str, Any]:
    payload = {"errorMessage": error.message, "errorType": error.aws_name}
    return {"statusCode": error.status, "payload": json.dumps(payload)}


class SyncInvoker:
    def __init__(self, registry: Registry, router: Router, clock: Clock) -> None:
        self._registry = registry
        self._router = router
        self._clock = clock

    def function_arn(self, function_name: str, qualifier: str | None) -> str:
        """The ARN records name the function by. Raises ResourceNotFound."""
        version = self._registry.resolve(function_name, qualifier)
        return version.function_arn if qualifier is None else f"{version.function_arn}:{qualifier}"

    def role(self, function_name: str) -> str:
        try:
            return str(self._registry.get_configuration(function_name, None).get("Role", ""))
        except ResourceNotFound:
            return ""

    async def invoke(self, function_name: str, qualifier: str | None, payload: bytes) -> Attempt:
        """Try ``payload`` once. A function that no longer exists is a system error (404)."""
        request_id = new_request_id()
        try:
            version, invoked_arn = self._registry.resolve_invocation(function_name, qualifier)
        except ResourceNotFound as error:
            return Attempt(Outcome.SYSTEM_ERROR, error_response(error), request_id)
        trace_id = new_trace_id(self._clock.wall())
        invocation = Invocation(request_id, payload, invoked_arn, trace_id, source="mapping")
        try:
            async with self._router.invoke(version, invocation) as result:
                response: dict[str, Any] = {
                    "statusCode": 200,
                    "executedVersion": result.executed_version,
                    "payload": result.payload.decode(errors="replace"),
                }
                if result.function_error:
                    response["functionError"] = result.function_error
                    return Attempt(Outcome.FUNCTION_ERROR, response, request_id)
                return Attempt(Outcome.SUCCESS, response, request_id)
        except TooManyRequests as error:
            return Attempt(Outcome.THROTTLED, error_response(error), request_id)
        except FlareError as error:
            return Attempt(Outcome.SYSTEM_ERROR, error_response(error), request_id)
