"""The Extensions API (``/2020-01-01/extension/...``), the Telemetry API
(``/2022-07-01/telemetry``) and the Logs API (``/2020-08-15/logs``), on the same listener as
the Runtime API (``runtime_api.py`` hands these paths to ``handle``).

Each route translates HTTP into a call on the environment's ``ExtensionHost`` (``extensions.py``)
or ``TelemetryHub`` (``telemetry.py``); their ``RuntimeApiError`` becomes AWS's error shape.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Protocol

from aiohttp import web
from aiohttp.web_request import BaseRequest

from flare.sandbox.extensions import ExtensionHost, encode, forbidden
from flare.sandbox.runtime_api import RuntimeApiError
from flare.sandbox.telemetry import TelemetryHub

EXTENSION_PREFIX = "/2020-01-01/extension/"
TELEMETRY_PATH = "/2022-07-01/telemetry"
LOGS_PATH = "/2020-08-15/logs"
NAME_HEADER = "Lambda-Extension-Name"
IDENTIFIER_HEADER = "Lambda-Extension-Identifier"
ERROR_TYPE_HEADER = "Lambda-Extension-Function-Error-Type"
FEATURES_HEADER = "Lambda-Extension-Accept-Feature"
EVENT_ID_HEADER = "Lambda-Extension-Event-Identifier"
MAX_BODY = 1024 * 1024


class ExtensionSide(Protocol):
    """What an environment offers these APIs."""

    def extension_host(self) -> ExtensionHost: ...

    def telemetry_hub(self) -> TelemetryHub: ...

    def registration_info(self, with_account: bool) -> dict[str, str]:
        """``functionName``, ``functionVersion``, ``handler`` (and ``accountId``)."""


def serves(path: str) -> bool:
    return path.startswith(EXTENSION_PREFIX) or path in (TELEMETRY_PATH, LOGS_PATH)


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(value, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=headers,
    )


async def handle(request: BaseRequest, side: ExtensionSide) -> web.StreamResponse:
    """Serve one request to these APIs (``serves(request.path)`` is True)."""
    path, method = request.path, request.method
    host = side.extension_host()
    if path == EXTENSION_PREFIX + "register" and method == "POST":
        return await _register(request, side, host)
    if path == EXTENSION_PREFIX + "event/next" and method == "GET":
        extension = host.find(request.headers.get(IDENTIFIER_HEADER))
        event = await host.next(extension)
        return web.Response(
            status=200,
            body=encode(event),
            content_type="application/json",
            headers={EVENT_ID_HEADER: _event_id(event)},
        )
    if path in (EXTENSION_PREFIX + "init/error", EXTENSION_PREFIX + "exit/error") and method == "POST":
        extension = host.find(request.headers.get(IDENTIFIER_HEADER))
        error_type = request.headers.get(ERROR_TYPE_HEADER)
        if not error_type:
            raise forbidden("Extension.MissingHeader", f"{ERROR_TYPE_HEADER} not found")
        await _body(request)
        host.report_error(extension, error_type, during_init=path.endswith("init/error"))
        return _json(202, {"status": "OK"})
    if path in (TELEMETRY_PATH, LOGS_PATH) and method == "PUT":
        extension = host.find(request.headers.get(IDENTIFIER_HEADER))
        body = await _body(request)
        side.telemetry_hub().subscribe(extension.name, body, legacy=path == LOGS_PATH)
        return _json(200, "OK")
    raise RuntimeApiError(404, "NotFound", f"unknown route {method} {path}")


async def _register(request: BaseRequest, side: ExtensionSide, host: ExtensionHost) -> web.Response:
    name = request.headers.get(NAME_HEADER)
    if not name:
        raise forbidden("Extension.InvalidExtensionName", "Empty extension name")
    body = await _body(request)
    try:
        parsed = json.loads(body)
        events = parsed["events"] if isinstance(parsed, dict) else None
    except (ValueError, KeyError, RecursionError):
        events = None
    if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
        raise forbidden("InvalidRequestFormat", 'The body must be {"events": [...]}')
    if isinstance(parsed, dict) and parsed.get("configurationKeys"):
        raise forbidden(
            "InvalidRequestFormat", "configurationKeys are deprecated; use environment variables instead"
        )
    extension = host.register(name, events)
    features = {feature.strip() for feature in request.headers.get(FEATURES_HEADER, "").split(",")}
    info = side.registration_info("accountId" in features)
    return _json(200, info, headers={IDENTIFIER_HEADER: extension.id})


async def _body(request: BaseRequest) -> bytes:
    """The request's body up to ``MAX_BODY`` bytes (the rest is never read): whole, however
    many pieces it arrives in."""
    body = bytearray()
    while len(body) < MAX_BODY:
        piece = await request.content.read(MAX_BODY - len(body))
        if not piece:
            break
        body += piece
    return bytes(body)


def _event_id(event: dict[str, object]) -> str:
    return str(uuid.uuid4())


class ExtensionRoutes:
    """These APIs, as ``RuntimeApiServer`` takes more routes (``MoreRoutes``)."""

    def serves(self, path: str) -> bool:
        return serves(path)

    async def handle(self, request: BaseRequest, side: Any) -> web.StreamResponse:
        return await handle(request, side)
