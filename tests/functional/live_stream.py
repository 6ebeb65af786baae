"""Reading the engine's live feed as server-sent events, for the tests: the signed
``/flare/v1/live`` (``flare top``'s) or, with a cookie, the console's ``/_flare/events``."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from tests.signing import signed_urlopen

Event = dict[str, Any]


class LiveStream:
    """An open event stream; ``until(match)`` reads events until one matches."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self.seen: list[Event] = []

    @classmethod
    def signed(cls, base_url: str, key: str = "test") -> LiveStream:
        request = urllib.request.Request(f"{base_url}/flare/v1/live")
        if key != "test":
            from tests.signing import signed_headers

            for name, value in signed_headers("GET", request.full_url, key=key).items():
                request.add_header(name, value)
            return cls(urllib.request.urlopen(request, timeout=15))
        return cls(signed_urlopen(request, timeout=15))

    def next(self) -> Event:
        """The next event (heartbeat comments skipped)."""
        while True:
            line = self._response.readline()
            if not line:
                raise EOFError("the event stream ended")
            if line.startswith(b"data: "):
                event: Event = json.loads(line[6:])
                self.seen.append(event)
                return event

    def until(self, match: Callable[[Event], bool], timeout: float = 15) -> Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.next()
            if match(event):
                return event
        raise AssertionError(f"no matching event within {timeout} s; saw {self.seen}")

    def close(self) -> None:
        self._response.close()
