"""A small Chrome DevTools Protocol client, as an editor attaches to Node's inspector: find the
target's WebSocket at ``/json/list``, then JSON commands with ids and events over it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

Message = dict[str, Any]


class CdpSession:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._id = 0
        self._kept: list[Message] = []

    async def call(self, method: str, **params: Any) -> Message:
        """Send a command; its ``result`` (AssertionError for an error answer)."""
        self._id += 1
        await self._ws.send_str(json.dumps({"id": self._id, "method": method, "params": params}))
        answer = await self._wait(lambda m, wanted=self._id: m.get("id") == wanted)
        assert "error" not in answer, answer
        result: Message = answer.get("result", {})
        return result

    async def event(self, method: str) -> Message:
        return await self._wait(lambda m: m.get("method") == method)

    async def _wait(self, wanted: Any) -> Message:
        for message in self._kept:
            if wanted(message):
                self._kept.remove(message)
                return message
        while True:
            received: Message = json.loads(await self._ws.receive_str())
            if wanted(received):
                return received
            self._kept.append(received)


async def locals_at_breakpoint(
    port: int, url: str, line: int, connect_within_s: float = 20
) -> dict[str, Any]:
    """Attach to the inspector on 127.0.0.1:``port``, set a breakpoint at ``url``:``line``
    (1-based), let the waiting runtime go on, and at the stop return the top frame's local
    variables (name => value), then resume."""
    async with aiohttp.ClientSession() as http:
        targets = await _targets(http, port, connect_within_s)
        async with http.ws_connect(targets[0]["webSocketDebuggerUrl"]) as ws:
            cdp = CdpSession(ws)
            await cdp.call("Runtime.enable")
            await cdp.call("Debugger.enable")
            await cdp.call("Debugger.setBreakpointByUrl", url=url, lineNumber=line - 1)
            await cdp.call("Runtime.runIfWaitingForDebugger")
            paused = (await cdp.event("Debugger.paused"))["params"]
            scope = paused["callFrames"][0]["scopeChain"][0]
            properties = await cdp.call("Runtime.getProperties", objectId=scope["object"]["objectId"])
            values = {p["name"]: p.get("value", {}).get("value") for p in properties["result"]}
            await cdp.call("Debugger.resume")
            return values


async def _targets(http: aiohttp.ClientSession, port: int, within_s: float) -> list[Message]:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        try:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets: list[Message] = await response.json(content_type=None)
                return targets
        except aiohttp.ClientError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
