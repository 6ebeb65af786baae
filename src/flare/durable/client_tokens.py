"""``ClientToken`` idempotency of a durable execution's actions, pure.

CheckpointDurableExecution, PauseDurableExecution and ResumeDurableExecution take an optional
``ClientToken``: the same request again with the same token within ``WINDOW_S`` (15 minutes, on
the engine's clock) is not applied twice; the first answer is given again. The execution keeps,
per action, the last token it took (``ExecutionRow.tokens``, JSON)::

    {"checkpoint": {"Token": ..., "Request": <what identifies the request>, "At": ..., "Answer": {...}}, ...}

A checkpoint's request is identified by the checkpoint token it presented (a retry presents the
same, now spent, token); a pause's or resume's by its parameters. The same client token with
another request is refused, and a checkpoint interrupted by a pause keeps no record (its retry is
refused as the spent token it carries).
"""

from __future__ import annotations

import json
from typing import Any

from flare.errors import InvalidParameterValue

WINDOW_S = 900.0


def replay(tokens: str, action: str, token: str | None, request: object, now: float) -> dict[str, Any] | None:
    """The answer recorded for ``token`` of ``action`` if it was taken within the window for
    the same ``request``; None when there is no such record. Raises InvalidParameterValue for
    the same token with another request."""
    if token is None:
        return None
    record = json.loads(tokens).get(action)
    if record is None or record["Token"] != token or now - float(record["At"]) > WINDOW_S:
        return None
    if record["Request"] != json.loads(json.dumps(request)):
        raise InvalidParameterValue(f"ClientToken {token} was already used with different parameters.")
    answer: dict[str, Any] = record["Answer"]
    return answer


def record(
    tokens: str, action: str, token: str | None, request: object, answer: dict[str, Any], now: float
) -> str:
    """``tokens`` with ``token``'s ``answer`` to ``request`` kept for ``action`` (unchanged
    without a token)."""
    if token is None:
        return tokens
    kept = json.loads(tokens)
    kept[action] = {"Token": token, "Request": request, "At": now, "Answer": answer}
    return json.dumps(kept)
