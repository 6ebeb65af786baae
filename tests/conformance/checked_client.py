"""boto3 clients whose every answer is checked against the service model as it arrives.

``attach(client, recorder)`` hooks botocore's events on ``client``: ``before-send`` keeps the request
(method, URL, body) and ``before-parse`` hands the raw answer (status, headers, body bytes)
to ``wire_check.violations`` before botocore parses it. An answer that breaks the model raises
``NonConformingAnswer`` out of the boto3 call, naming the operation, what was sent and every
violation, so a test fails at the call that got it, whether the call succeeds or is refused.

Streamed bodies (Invoke's payload, event streams) are not read by the hook: their headers and
status are checked and the body is left to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationModel

from tests.conformance.wire_check import Answer, violations


class NonConformingAnswer(AssertionError):
    """An answer that botocore's model does not allow."""


@dataclass
class Exchange:
    """One request and its answer, as the hook saw them."""

    operation: str
    method: str
    url: str
    sent: bytes
    answer: Answer | None = None


@dataclass
class Recorder:
    """What a checked client sent and got, in order."""

    exchanges: list[Exchange] = field(default_factory=list)

    def operations(self) -> set[str]:
        return {exchange.operation for exchange in self.exchanges if exchange.answer is not None}

    def on_send(self, request: Any, event_name: str, **_: Any) -> None:
        body = request.body
        if body is None:
            sent = b""
        elif isinstance(body, bytes):
            sent = body
        elif isinstance(body, str):
            sent = body.encode()
        else:
            sent = b"<stream>"
        self.exchanges.append(Exchange(event_name.rsplit(".", 1)[-1], request.method, request.url, sent))

    def on_answer(self, operation_model: OperationModel, response_dict: dict[str, Any], **_: Any) -> None:
        raw = response_dict["body"]
        answer = Answer(
            response_dict["status_code"],
            dict(response_dict["headers"]),
            raw if isinstance(raw, bytes) else None,
        )
        exchange = self.exchanges[-1] if self.exchanges else Exchange(operation_model.name, "?", "?", b"")
        exchange.operation, exchange.answer = operation_model.name, answer
        found = violations(operation_model, answer)
        if found:
            raise NonConformingAnswer(report(exchange, found))


def report(exchange: Exchange, found: list[str]) -> str:
    """The lines a failing test shows: the operation, the request, the answer, each violation."""
    assert exchange.answer is not None
    sent = exchange.sent[:300].decode(errors="replace")
    body = (exchange.answer.body or b"<streamed>")[:600].decode(errors="replace")
    lines = [
        f"{exchange.operation}: the answer breaks botocore's model",
        f"  sent: {exchange.method} {exchange.url} {sent}",
        f"  got:  {exchange.answer.status} {body}",
        *(f"  - {line}" for line in found),
    ]
    return "\n".join(lines)


def attach(client: Any, recorder: Recorder) -> Any:
    """Check every answer ``client`` gets from now on, keeping the exchanges in ``recorder``."""
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-send.{service}", recorder.on_send)
    client.meta.events.register(f"before-parse.{service}", recorder.on_answer)
    return client
