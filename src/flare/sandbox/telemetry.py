"""The Telemetry API (``PUT /2022-07-01/telemetry``) and the older Logs API
(``PUT /2020-08-15/logs``): subscriptions, buffering, and delivery off the invoke path.

An extension subscribes to streams (``platform``, ``function``, ``extension``) with a
destination (``HTTP`` to its listener, ``sandbox.localdomain`` or an address of its own) and
buffering (``maxItems``, ``maxBytes``, ``timeoutMs``, AWS's limits and defaults in ``LIMITS``).
Each event goes into every matching subscriber's buffer (``TelemetryHub.emit``: a list append).
A buffer is posted as a JSON array when full or when its timer ends (the injected clock), by a
task of its own: nothing on the invoke path waits for a listener. One post per subscriber is in
flight at a time; a batch that is due while one is in flight, or whose post fails, is dropped,
and the subscriber gets ``platform.logsDropped`` saying how much.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from flare.clock import Clock, TimerHandle
from flare.sandbox.runtime_api import RuntimeApiError

log = logging.getLogger("flare.telemetry")

STREAMS = ("platform", "function", "extension")
SCHEMA_VERSIONS = ("2022-07-01", "2022-12-13", "2025-01-29")
# name: (minimum, maximum, default), as AWS documents them for both APIs
LIMITS = {
    "maxItems": (1000, 10000, 10000),
    "maxBytes": (262144, 1048576, 262144),
    "timeoutMs": (25, 30000, 1000),
}
LOCAL_HOSTS = {"sandbox.localdomain": "127.0.0.1", "sandbox": "127.0.0.1"}
POST_TIMEOUT_S = 5.0
ANSWER_KEPT = 64 * 1024
"""Bytes of a listener's answer the engine reads at most: the listener is the function's."""
DROPPED_REASON = (
    "Some logs were dropped because the downstream consumer is slower than the logs production rate"
)


def invalid(message: str) -> RuntimeApiError:
    return RuntimeApiError(400, "ValidationError", message)


@dataclass(frozen=True)
class Subscription:
    """A validated subscription request. Pure data."""

    streams: frozenset[str]
    url: str
    max_items: int
    max_bytes: int
    timeout_ms: int


def parse_subscription(body: bytes, legacy: bool) -> Subscription:
    """Validate a Telemetry API (or, ``legacy``, Logs API) subscription body; AWS's 400
    ``ValidationError`` when it is not one. Pure."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError) as error:  # a body nested deeper than Python recurses
        raise invalid(f"failed to parse JSON: {error}") from None
    if not isinstance(request, dict):
        raise invalid("the subscription must be a JSON object")
    if not legacy and request.get("schemaVersion") not in SCHEMA_VERSIONS:
        raise invalid(f"schemaVersion must be one of {', '.join(SCHEMA_VERSIONS)}")
    types = request.get("types")
    if not isinstance(types, list) or not types or any(kind not in STREAMS for kind in types):
        raise invalid(f"types must be a non-empty list of {', '.join(STREAMS)}")
    destination = request.get("destination")
    if not isinstance(destination, dict) or destination.get("protocol") != "HTTP":
        raise invalid("destination.protocol must be HTTP")
    url = destination.get("URI")
    if not isinstance(url, str) or urlsplit(url).scheme != "http" or not urlsplit(url).hostname:
        raise invalid("destination.URI must be an http:// URI")
    buffering = request.get("buffering") or {}
    if not isinstance(buffering, dict):
        raise invalid("buffering must be an object")
    values = {}
    for name, (low, high, default) in LIMITS.items():
        value = buffering.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise invalid(f"buffering.{name} must be an integer from {low} to {high}")
        values[name] = value
    return Subscription(frozenset(types), url, values["maxItems"], values["maxBytes"], values["timeoutMs"])


def delivery_url(url: str) -> str:
    """Where the engine posts for a destination: ``sandbox.localdomain`` is the environment's
    own loopback (it shares the host's network). Pure."""
    parts = urlsplit(url)
    host = LOCAL_HOSTS.get(parts.hostname or "")
    if host is None:
        return url
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def stamp(wall: float) -> str:
    """An event's ``time``: ISO 8601 with milliseconds, UTC. Pure."""
    moment = datetime.datetime.fromtimestamp(wall, datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"


@dataclass(eq=False)
class Subscriber:
    """One subscription's buffer and its poster."""

    name: str
    subscription: Subscription
    legacy: bool
    items: list[bytes] = field(default_factory=list)
    size: int = 0
    timer: TimerHandle | None = None
    posting: asyncio.Task[None] | None = None
    dropped: tuple[int, int, str] = (0, 0, "")  # records, bytes, why: told in the next batch


class TelemetryHub:
    """Every subscription of one environment (see the module docstring)."""

    def __init__(self, clock: Clock, post: Callable[[str, bytes], Awaitable[None]] | None = None) -> None:
        """``post(url, body)``: delivers one batch (default: ``HttpPoster``)."""
        self._clock = clock
        self._subscribers: list[Subscriber] = []
        self._post = post or HttpPoster()
        # events of INIT, kept until it ends for the subscriptions made during it
        self._backlog: list[tuple[str, str, bytes]] | None = []
        self._paused = False  # the environment is frozen: its listeners could not answer

    @property
    def active(self) -> bool:
        return bool(self._subscribers)

    def post_with(self, post: Callable[[str, bytes], Awaitable[None]]) -> None:
        """Deliver with ``post`` from now on (an isolated network's ``InsidePoster``)."""
        self._post = post

    def subscribe(self, name: str, body: bytes, legacy: bool) -> Subscription:
        """Add (or replace) ``name``'s subscription; it is told with
        ``platform.telemetrySubscription`` (Telemetry API) as Lambda does."""
        subscription = parse_subscription(body, legacy)
        self._subscribers = [s for s in self._subscribers if (s.name, s.legacy) != (name, legacy)]
        subscriber = Subscriber(name, subscription, legacy)
        self._subscribers.append(subscriber)
        for stream, kind, item in self._backlog or ():
            self._offer(subscriber, stream, kind, item)
        if not legacy:
            record = {"name": name, "state": "Subscribed", "types": sorted(subscription.streams)}
            self.emit("platform", "platform.telemetrySubscription", record)
        return subscription

    def emit(self, stream: str, kind: str, record: Any) -> None:
        """One event of ``stream`` to every subscriber of it (buffered; posted later)."""
        if not self._subscribers and self._backlog is None:
            return
        item = _compact({"time": stamp(self._clock.wall()), "type": kind, "record": record})
        if self._backlog is not None:
            self._backlog.append((stream, kind, item))
        for subscriber in self._subscribers:
            self._offer(subscriber, stream, kind, item)

    def _offer(self, subscriber: Subscriber, stream: str, kind: str, item: bytes) -> None:
        if stream not in subscriber.subscription.streams:
            return
        if stream == "platform" and (kind in LEGACY_TYPES) != subscriber.legacy and kind not in SHARED_TYPES:
            return
        self._add(subscriber, item)

    def end_backlog(self) -> None:
        """INIT is over: later subscriptions get only what comes after them."""
        self._backlog = None

    def _add(self, subscriber: Subscriber, item: bytes) -> None:
        subscriber.items.append(item)
        subscriber.size += len(item)
        sub = subscriber.subscription
        if len(subscriber.items) >= sub.max_items or subscriber.size >= sub.max_bytes:
            self._send(subscriber)
        else:
            self._schedule(subscriber)

    def _schedule(self, subscriber: Subscriber) -> None:
        if subscriber.timer is None:
            delay = subscriber.subscription.timeout_ms / 1000
            subscriber.timer = self._clock.call_later(delay, lambda: self._send(subscriber))

    def flush(self) -> None:
        """Send every buffer now (SHUTDOWN: the extensions get what is left)."""
        for subscriber in self._subscribers:
            if subscriber.items:
                self._send(subscriber)

    def pause(self) -> None:
        """The environment is frozen: batches wait (kept, not dropped) until ``resume``."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        for subscriber in self._subscribers:
            if subscriber.items and subscriber.timer is None:
                self._send(subscriber)

    def _send(self, subscriber: Subscriber) -> None:
        """Post the buffer now (after a ``platform.logsDropped`` telling what was lost since
        the last post), unless frozen (kept for ``resume``) or a post is in flight (sent after
        it; dropped once past the buffer's limits)."""
        if subscriber.timer is not None:
            subscriber.timer.cancel()
            subscriber.timer = None
        if self._paused or not (subscriber.items or subscriber.dropped[0]):
            return
        items, size = subscriber.items, subscriber.size
        if subscriber.posting is not None:
            sub = subscriber.subscription
            if len(items) > sub.max_items or size > sub.max_bytes:
                subscriber.items, subscriber.size = [], 0
                self._dropped(subscriber, len(items), size, DROPPED_REASON)
            return
        subscriber.items, subscriber.size = [], 0
        lost, subscriber.dropped = subscriber.dropped, (0, 0, "")
        if lost[0]:
            record = {"reason": lost[2], "droppedRecords": lost[0], "droppedBytes": lost[1]}
            event = {"time": stamp(self._clock.wall()), "type": "platform.logsDropped", "record": record}
            items = [_compact(event), *items]
        body = b"[" + b",".join(items) + b"]"
        url = delivery_url(subscriber.subscription.url)
        posted = (len(items) - (1 if lost[0] else 0) + lost[0], size + lost[1])
        task = asyncio.get_running_loop().create_task(self._deliver(subscriber, url, body, posted))
        subscriber.posting = task

    async def _deliver(self, subscriber: Subscriber, url: str, body: bytes, posted: tuple[int, int]) -> None:
        """POST ``body`` (``posted``: the records and bytes it stands for); a failure drops them."""
        try:
            await self._post_in_time(url, body)
        except Exception as error:  # a dead or slow listener: dropped, never raised
            log.debug("telemetry to %s dropped: %r", subscriber.name, error)
            subscriber.posting = None
            self._dropped(subscriber, *posted, f"could not send events: {error!r}")
            return
        subscriber.posting = None
        self._send(subscriber)  # what came meanwhile

    async def _post_in_time(self, url: str, body: bytes) -> None:
        """``post(url, body)``, given up (TimeoutError) after ``POST_TIMEOUT_S`` of the clock."""
        post = asyncio.ensure_future(self._post(url, body))
        expired: list[bool] = []

        def expire() -> None:
            expired.append(True)
            post.cancel()

        timer = self._clock.call_later(POST_TIMEOUT_S, expire)
        try:
            await post
        except asyncio.CancelledError:
            if expired:
                raise TimeoutError(f"no answer within {POST_TIMEOUT_S:g} s") from None
            raise
        finally:
            timer.cancel()

    def _dropped(self, subscriber: Subscriber, records: int, size: int, reason: str) -> None:
        """Count a loss; the next post starts with ``platform.logsDropped`` saying it."""
        before = subscriber.dropped
        subscriber.dropped = (before[0] + records, before[1] + size, reason)
        self._schedule(subscriber)

    def posting(self) -> list[asyncio.Task[None]]:
        """The posts in flight (the environment is not frozen under them)."""
        return [s.posting for s in self._subscribers if s.posting is not None]

    async def drain(self, timeout_s: float) -> None:
        """Post every buffer and wait, at most ``timeout_s`` of the clock, until none is left in
        flight."""
        over: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def end() -> None:
            over.cancel()

        timer = self._clock.call_later(timeout_s, end)
        self.flush()
        try:
            while (posting := self.posting()) and not over.done():
                await asyncio.wait([*posting, over], return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()

    async def close(self) -> None:
        """Stop: what is buffered or in flight is dropped (``drain`` first to deliver it)."""
        for subscriber in self._subscribers:
            if subscriber.timer is not None:
                subscriber.timer.cancel()
            if subscriber.posting is not None:
                subscriber.posting.cancel()
        self._subscribers = []
        if isinstance(self._post, HttpPoster):
            await self._post.close()
        elif isinstance(self._post, Closable):
            self._post.close()


# Platform events of the Logs API only, and of both APIs (the Telemetry API's others are newer).
LEGACY_TYPES = frozenset({"platform.end", "platform.fault"})
SHARED_TYPES = frozenset({"platform.start", "platform.report", "platform.extension", "platform.logsDropped"})


def _compact(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


@runtime_checkable
class Closable(Protocol):
    def close(self) -> None: ...


class HttpPoster:
    """POSTs batches over one aiohttp session (its connections to a listener kept alive);
    aiohttp's client is imported at the first post: an engine without subscribers never loads
    it."""

    def __init__(self) -> None:
        self._session: Any = None

    async def __call__(self, url: str, body: bytes) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()  # the hub times each post on its clock
        headers = {"Content-Type": "application/json"}
        async with self._session.post(url, data=body, headers=headers) as response:
            await response.content.read(ANSWER_KEPT)
            if not response.content.at_eof():
                response.close()  # a longer answer is never read: its connection goes
            if response.status >= 300:
                raise OSError(f"listener answered {response.status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
