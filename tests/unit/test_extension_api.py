"""The Extensions API's reading of what an extension sends: whole bodies however they arrive,
and refusals (never a crash) for bodies no parser can take (sandbox/extension_api.py)."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request

from flare.sandbox import extension_api
from flare.sandbox.runtime_api import RuntimeApiError


class Side:
    """An environment as the API sees it, registering whatever is asked."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, list[str]]] = []

    def extension_host(self) -> Any:
        side = self

        class Host:
            def register(self, name: str, events: list[str]) -> Any:
                side.registered.append((name, events))
                return mock.Mock(id="ext-1")

        return Host()

    def telemetry_hub(self) -> Any:
        raise AssertionError("registering reads no telemetry hub")

    def registration_info(self, with_account: bool) -> dict[str, str]:
        return {"functionName": "f", "functionVersion": "$LATEST", "handler": "app.handler"}


def _register(pieces: list[bytes]) -> tuple[Side, Any]:
    async def run() -> Any:
        protocol = mock.Mock(_reading_paused=False)
        payload = streams.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
        request = make_mocked_request(
            "POST",
            "/2020-01-01/extension/register",
            headers={"Lambda-Extension-Name": "probe"},
            payload=payload,
        )
        side = Side()

        async def feed() -> None:
            for piece in pieces:
                await asyncio.sleep(0.01)  # each piece arrives on its own
                payload.feed_data(piece)
            payload.feed_eof()

        feeding = asyncio.ensure_future(feed())
        answer: web.StreamResponse | RuntimeApiError
        try:
            answer = await extension_api.handle(request, side)
        except RuntimeApiError as error:
            answer = error
        await feeding
        return side, answer

    result: tuple[Side, Any] = asyncio.run(run())
    return result


def test_a_body_arriving_in_pieces_is_read_whole() -> None:
    side, answer = _register([b'{"events": ', b'["INVOKE", ', b'"SHUTDOWN"]}'])
    assert getattr(answer, "status", None) == 200
    assert side.registered == [("probe", ["INVOKE", "SHUTDOWN"])]


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b"not json", b'{"events": "INVOKE"}'])
def test_a_body_no_parser_takes_is_refused(body: bytes) -> None:
    side, answer = _register([body])
    assert isinstance(answer, RuntimeApiError) and answer.status == 403
    assert answer.error_type == "InvalidRequestFormat"
    assert side.registered == []
