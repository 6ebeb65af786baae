"""Live Tail sessions (``StartLiveTail``): new events of up to 10 log groups, once a second.

A session starts at the groups' present ends (it shows only what is stored after it began),
then each ``UPDATE_INTERVAL_S`` of the clock yields the events stored since, oldest first,
at most ``MAX_RESULTS`` an update (more are dropped and the update says ``sampled``, as
CloudWatch samples above its rate). A session ends after ``MAX_SESSION_S`` (3 hours, as on
AWS: the stream then carries ``SessionTimeoutException``), when its consumer stops iterating,
or when the service closes every session at shutdown.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from flare.clock import Clock
from flare.observe.logs import LogEvent
from flare.services.errors import LogInvalidParameter
from flare.services.log_filter import Matcher
from flare.services.logs import LogService, StreamQuery

UPDATE_INTERVAL_S = 1.0
MAX_SESSION_S = 3 * 3600.0
MAX_RESULTS = 500
MAX_GROUPS = 10


@dataclass(frozen=True)
class TailedEvent:
    group_arn: str
    event: LogEvent


@dataclass(frozen=True)
class Update:
    """One ``sessionUpdate``: the new events, and whether some were dropped."""

    events: list[TailedEvent]
    sampled: bool = False


@dataclass
class LiveTailSession:
    session_id: str
    groups: list[str]
    streams: StreamQuery
    pattern: str | None
    matches: Matcher
    cursors: dict[str, int] = field(default_factory=dict)
    timed_out: bool = False


def check_session(identifiers: list[str], streams: StreamQuery) -> None:
    """StartLiveTail's rules on what it follows; raises ``InvalidParameterException`` (too many
    groups, stream filters with several groups, names and prefixes together)."""
    if not 1 <= len(identifiers) <= MAX_GROUPS:
        raise LogInvalidParameter(f"Between 1 and {MAX_GROUPS} log group identifiers are required.")
    if streams.names is not None and streams.prefixes is not None:
        raise LogInvalidParameter("logStreamNames and logStreamNamePrefixes are mutually exclusive.")
    if len(identifiers) > 1 and (streams.names is not None or streams.prefixes is not None):
        raise LogInvalidParameter(
            "logStreamNames and logStreamNamePrefixes can only be used with a single log group."
        )


Poll = Callable[[LiveTailSession], Awaitable[Update]]


class LiveTails:
    """Starts sessions over a :class:`LogService` and ends them all on ``close``."""

    def __init__(self, service: LogService, clock: Clock) -> None:
        self._service = service
        self._clock = clock
        self._closed = asyncio.Event()

    def start(self, identifiers: list[str], streams: StreamQuery, pattern: str | None) -> LiveTailSession:
        """A session on existing groups (by name or ARN). Raises ``InvalidParameterException``
        (``check_session``) or ``ResourceNotFoundException`` (a missing group)."""
        check_session(identifiers, streams)
        matches = self._service.matcher(pattern)
        groups = [self._service.group(self._service.group_name(item)).name for item in identifiers]
        session = LiveTailSession(uuid.uuid4().hex, groups, streams, pattern, matches)
        session.cursors = {group: self._service.next_seq(group) for group in groups}
        return session

    def poll(self, session: LiveTailSession) -> Update:
        """The events stored since the last poll (or the session's start)."""
        found: list[TailedEvent] = []
        for group in session.groups:
            events = self._service.events_since(
                group, session.cursors[group], session.matches, session.streams
            )
            if events:
                session.cursors[group] = events[-1].seq + 1
            arn = self._service.group_arn(group)
            found += [TailedEvent(arn, event) for event in events]
        found.sort(key=lambda item: (item.event.timestamp_ms, item.event.seq))
        return Update(found[:MAX_RESULTS], sampled=len(found) > MAX_RESULTS)

    async def updates(self, session: LiveTailSession, poll: Poll | None = None) -> AsyncIterator[Update]:
        """An update every ``UPDATE_INTERVAL_S`` until the session times out (then
        ``session.timed_out`` is set) or the service closes; ``poll``: what makes an update
        (this service's own events unless given: a cluster's node asks every node)."""
        began = self._clock.now()
        while not self._closed.is_set():
            if self._clock.now() - began >= MAX_SESSION_S:
                session.timed_out = True
                return
            await self._sleep(UPDATE_INTERVAL_S)
            if self._closed.is_set():
                return
            yield self.poll(session) if poll is None else await poll(session)

    async def _sleep(self, delay: float) -> None:
        closing = asyncio.ensure_future(self._closed.wait())
        sleeping = asyncio.ensure_future(self._clock.sleep(delay))
        try:
            await asyncio.wait((closing, sleeping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            sleeping.cancel()

    def close(self) -> None:
        self._closed.set()
