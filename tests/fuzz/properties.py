"""What every answer of Flare must be, whatever it was sent (issue 13, "proof under fire").

Never a 500; never a traceback, a Python repr or a source path in the body; every error in its
service's AWS shape: Lambda's (``x-amzn-ErrorType`` and a JSON body with ``message`` or
``Message``) or, for the JSON services at ``POST /``, theirs (a JSON body with ``__type``).
"""

from __future__ import annotations

import json
import re

from tests.conftest import FlareServer
from tests.fuzz.raw_http import RawRequest, Reply, exchange

LEAKS = re.compile(
    rb"Traceback \(most recent call last\)|File \"/|\.py\", line \d|object at 0x[0-9a-f]+|<flare\.|"
    rb"\b(?:Key|Type|Attribute|Index|Value|Recursion|Unicode\w*|Assertion|Runtime|OS|Name)Error\b"
)


def checked_answer(server: FlareServer, request: RawRequest, data: bytes) -> Reply:
    """``server``'s answer to ``data`` (``request``'s bytes as sent), asserting it has no
    ``problems`` and the engine is still running."""
    try:
        reply = exchange(server.url, data)
    except OSError as error:
        alive = server.process.poll() is None
        raise AssertionError(
            f"no answer ({error!r}, engine alive: {alive}) to {request.describe()}"
        ) from None
    assert server.process.poll() is None, f"the engine died after {request.describe()}"
    found = problems(request, reply)
    assert not found, f"{found} answering {request.describe()}: {reply.status} {reply.body[:500]!r}"
    return reply


def problems(request: RawRequest, reply: Reply) -> list[str]:
    """What is wrong with ``reply`` as the answer to ``request`` (empty when nothing is)."""
    found = []
    if reply.status == 500:
        found.append("status 500")
    leak = LEAKS.search(reply.body)
    if leak is not None:
        found.append(f"leaks {leak.group(0)!r}")
    if reply.status >= 400:
        found += _shape_problems(request, reply)
    return found


def _shape_problems(request: RawRequest, reply: Reply) -> list[str]:
    try:
        body = json.loads(reply.body)
    except ValueError:
        return [f"error body is not JSON: {reply.body[:200]!r}"]
    if not isinstance(body, dict):
        return [f"error body is not a JSON object: {reply.body[:200]!r}"]
    if "__type" in body:
        return [] if isinstance(body.get("message", body.get("Message")), str | None) else ["bad message"]
    found = []
    if "x-amzn-errortype" not in reply.headers:
        found.append("no x-amzn-ErrorType header")
    if not isinstance(body.get("message", body.get("Message")), str):
        found.append("no message in the error body")
    return found
