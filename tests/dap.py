"""A small Debug Adapter Protocol client, as an editor talks to debugpy: Content-Length framed
JSON over a TCP socket. Requests are answered by responses with the same ``request_seq``;
events arrive in between and are kept until a test waits for them."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

Message = dict[str, Any]


class DapClient:
    def __init__(self, port: int, connect_within_s: float = 20.0, timeout_s: float = 30.0) -> None:
        """Connect to a debug server on 127.0.0.1:``port``, retrying while it is not listening
        yet (an environment's INIT is starting it)."""
        deadline = time.monotonic() + connect_within_s
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._buffer = b""
        self._seq = 0
        self._kept: list[Message] = []

    def close(self) -> None:
        self.sock.close()

    def send(self, command: str, **arguments: Any) -> int:
        self._seq += 1
        message = {"seq": self._seq, "type": "request", "command": command, "arguments": arguments}
        body = json.dumps(message).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self._seq

    def request(self, command: str, **arguments: Any) -> Message:
        """Send a request and return its response's ``body``; AssertionError when it failed."""
        response = self.response_to(self.send(command, **arguments))
        assert response["success"], response
        body: Message = response.get("body", {})
        return body

    def response_to(self, seq: int) -> Message:
        return self.wait(lambda m: m.get("type") == "response" and m.get("request_seq") == seq)

    def event(self, name: str) -> Message:
        return self.wait(lambda m: m.get("type") == "event" and m.get("event") == name)

    def wait(self, wanted: Callable[[Message], bool]) -> Message:
        """The first message (kept or new) that ``wanted`` accepts; the others are kept."""
        for message in self._kept:
            if wanted(message):
                self._kept.remove(message)
                return message
        while True:
            message = self._read()
            if wanted(message):
                return message
            self._kept.append(message)

    def _read(self) -> Message:
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n"))
        length = int(next(value for name, value in fields.items() if name.lower() == b"content-length"))
        while len(rest) < length:
            rest += self._recv()
        self._buffer = rest[length:]
        message: Message = json.loads(rest[:length])
        return message

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the debug server closed the connection")
        return data

    def attach(self, breakpoints: dict[str, list[int]]) -> None:
        """The handshake an editor's attach does: initialize, attach, the breakpoints (path as
        the debuggee sees it => lines), configurationDone."""
        self.request("initialize", adapterID="debugpy", clientID="flare-tests", pathFormat="path",
                     linesStartAt1=True, columnsStartAt1=True)  # fmt: skip
        attach = self.send("attach", justMyCode=False)
        self.event("initialized")
        for path, lines in breakpoints.items():
            wanted = [{"line": line} for line in lines]
            answer = self.request("setBreakpoints", source={"path": path}, breakpoints=wanted)
            assert all(b["verified"] for b in answer["breakpoints"]), answer
        self.request("configurationDone")
        assert self.response_to(attach)["success"]

    def locals_when_stopped(self) -> tuple[int, Message, dict[str, str]]:
        """Wait for a ``stopped`` event; return its thread, its top frame and that frame's
        local variables (name => repr)."""
        stopped = self.event("stopped")
        thread = stopped["body"]["threadId"]
        frame = self.request("stackTrace", threadId=thread)["stackFrames"][0]
        scope = self.request("scopes", frameId=frame["id"])["scopes"][0]
        variables = self.request("variables", variablesReference=scope["variablesReference"])["variables"]
        return thread, frame, {v["name"]: v["value"] for v in variables}
