"""The embedded CloudWatch Logs service: log groups, streams, events, retention, filtering.

Every rule CloudWatch applies after the request's shape is checked lives here, with its error
(``services/errors.py``); ``api/logs_service.py`` only translates the wire. Events are read from
``LogStore`` (observe/logs.py), which Lambda's environments append to, and groups and streams
from its index (store/log_index.py).

Retention is applied on the injected clock: events older than the group's ``retentionInDays``
(else the server's ``--log-retention``, ``LogLimits``) are hidden from every read at once
(CloudWatch marks them for deletion), and ``sweep`` (run every ``SWEEP_INTERVAL_S``) deletes the
streams whose newest event has expired. So that no function's output fills the disk, the sweep
also keeps each group within ``LogLimits.max_group_bytes`` (``--log-group-max-mb``), deleting
its streams that were written to longest ago first (``over_budget``); a group can pass its
budget by what is written within one sweep interval.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from flare.clock import Clock, TimerHandle
from flare.observe.logs import LogEvent, LogStore
from flare.services.errors import LogInvalidParameter, LogResourceExists, LogResourceNotFound
from flare.services.log_filter import FilterPatternError, Matcher, compile_pattern
from flare.services.log_paging import BadToken, StreamPage, filter_page, position, stream_page
from flare.store.log_index import GroupRow, StreamRow

DAY_MS = 86_400_000
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
MAX_PAST_MS = 14 * DAY_MS
MAX_FUTURE_MS = 2 * 3600 * 1000
MAX_BATCH_SPAN_MS = DAY_MS
SWEEP_INTERVAL_S = 60.0
NO_GROUP = "The specified log group does not exist."
NO_STREAM = "The specified log stream does not exist."


@dataclass(frozen=True)
class Rejected:
    """PutLogEvents' ``rejectedLogEventsInfo``: indexes of events not stored, None when none."""

    too_new_start: int | None = None
    too_old_end: int | None = None
    expired_end: int | None = None


@dataclass(frozen=True)
class StreamQuery:
    """Which streams of a group a filter reads: by name, by name prefix, or all (both None)."""

    names: tuple[str, ...] | None = None
    prefixes: tuple[str, ...] | None = None

    def admits(self, name: str) -> bool:
        if self.names is not None:
            return name in self.names
        return self.prefixes is None or name.startswith(self.prefixes)


@dataclass(frozen=True)
class LogLimits:
    """The server's bounds on stored logs: the retention of groups that set none (None: kept
    until a policy says otherwise, as CloudWatch does) and the bytes one group may hold."""

    default_retention_days: int | None = None
    max_group_bytes: int = 1024 * 1024 * 1024


def over_budget(streams: Iterable[StreamRow], budget: int) -> list[str]:
    """The names of the streams to delete, those written to longest ago first, for the rest to
    hold at most ``budget`` bytes. Pure."""
    ordered = sorted(streams, key=lambda row: (row.last_ms or row.created_ms, row.name))
    total = sum(row.stored_bytes for row in ordered)
    doomed = []
    for row in ordered:
        if total <= budget:
            break
        doomed.append(row.name)
        total -= row.stored_bytes
    return doomed


def check_group_query(prefix: str | None, pattern: str | None) -> None:
    """DescribeLogGroups' rule on its name filters; raises ``InvalidParameterException``."""
    if prefix and pattern:
        raise LogInvalidParameter(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
        )


def check_stream_order(prefix: str | None, by_last_event: bool) -> None:
    """DescribeLogStreams' rule on its order; raises ``InvalidParameterException``."""
    if prefix and by_last_event:
        raise LogInvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")


def check_stream_query(streams: StreamQuery) -> None:
    """FilterLogEvents' rule on the streams it reads; raises ``InvalidParameterException``."""
    if streams.names is not None and streams.prefixes is not None:
        raise LogInvalidParameter("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")


def check_retention_days(days: int) -> None:
    """``days`` must be one of CloudWatch's retention periods; raises ``InvalidParameterException``."""
    if days not in RETENTION_DAYS:
        raise LogInvalidParameter(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]"
        )


def check_batch(events: list[tuple[int, str]]) -> None:
    """PutLogEvents' rules on a batch (chronological, spanning at most 24 hours); raises
    ``InvalidParameterException``."""
    if any(later[0] < earlier[0] for earlier, later in itertools.pairwise(events)):
        raise LogInvalidParameter(
            "Log events in a single PutLogEvents request must be in chronological order."
        )
    if events and events[-1][0] - events[0][0] > MAX_BATCH_SPAN_MS:
        raise LogInvalidParameter(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
        )


class LogService:
    """CloudWatch Logs' semantics over a :class:`LogStore`. Used from the event loop's thread."""

    def __init__(
        self, store: LogStore, clock: Clock, region: str, account_id: str, limits: LogLimits = LogLimits()
    ) -> None:
        self.limits = limits
        self.store = store
        self.index = store.index
        self._clock = clock
        self.region = region
        self.account_id = account_id
        self._sweeper: TimerHandle | None = None

    def now_ms(self) -> int:
        return int(self._clock.wall() * 1000)

    def group_arn(self, name: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{name}"

    def group_name(self, identifier: str) -> str:
        """A group's name from a ``logGroupIdentifier`` (its name or ARN, with or without ``:*``)."""
        if not identifier.startswith("arn:"):
            return identifier
        parts = identifier.split(":", 6)
        if len(parts) < 7 or parts[5] != "log-group":
            raise LogInvalidParameter(f"Invalid log group identifier: {identifier}")
        return parts[6].removesuffix(":*")

    # ---- groups -----------------------------------------------------------------------------

    def create_group(self, name: str, group_class: str | None = None) -> None:
        self.store.flush()
        if not self.index.create_group(name, self.now_ms(), group_class or "STANDARD"):
            raise LogResourceExists("The specified log group already exists")

    def group(self, name: str) -> GroupRow:
        """Raises ``ResourceNotFoundException`` if there is no such group."""
        self.store.flush()
        row = self.index.group(name)
        if row is None:
            raise LogResourceNotFound(NO_GROUP)
        return row

    def groups(self, prefix: str | None, pattern: str | None) -> list[GroupRow]:
        """Groups by name: those starting with ``prefix``, or containing ``pattern`` (any case)."""
        check_group_query(prefix, pattern)
        self.store.flush()
        rows = self.index.groups(prefix or "")
        if pattern:
            rows = [row for row in rows if pattern.lower() in row.name.lower()]
        return rows

    def stored_bytes(self, name: str) -> int:
        return self.index.stored_bytes(name)

    def delete_group(self, name: str) -> None:
        self.store.flush()
        if not self.index.delete_group(name):
            raise LogResourceNotFound(NO_GROUP)
        self.store.forget_group(name)

    def put_retention(self, name: str, days: int) -> None:
        check_retention_days(days)
        self.group(name)
        self.index.set_retention(name, days)

    def delete_retention(self, name: str) -> None:
        self.group(name)
        self.index.set_retention(name, None)

    # ---- streams ----------------------------------------------------------------------------

    def create_stream(self, group: str, name: str) -> None:
        self.group(group)
        if not self.index.create_stream(group, name, self.now_ms()):
            raise LogResourceExists("The specified log stream already exists")

    def stream(self, group: str, name: str) -> StreamRow:
        """Raises ``ResourceNotFoundException`` for a missing group or stream."""
        self.group(group)
        row = self.index.stream(group, name)
        if row is None:
            raise LogResourceNotFound(NO_STREAM)
        return row

    def streams(
        self, group: str, prefix: str | None, by_last_event: bool, descending: bool
    ) -> list[StreamRow]:
        """The group's streams in DescribeLogStreams' order."""
        check_stream_order(prefix, by_last_event)
        self.group(group)
        rows = self.index.streams(group, prefix or "")
        if by_last_event:
            rows.sort(key=lambda row: (row.last_ms or 0, row.name))
        return rows[::-1] if descending else rows

    def delete_stream(self, group: str, name: str) -> None:
        self.group(group)
        if not self.index.delete_stream(group, name):
            raise LogResourceNotFound(NO_STREAM)
        self.store.forget_stream(group, name)

    # ---- events -----------------------------------------------------------------------------

    def put_events(self, group: str, stream: str, events: list[tuple[int, str]]) -> Rejected:
        """Store a PutLogEvents batch (chronological, spanning at most 24 hours); events too old,
        too new or past the group's retention are not stored and reported, as CloudWatch does."""
        self.stream(group, stream)
        check_batch(events)
        now = self.now_ms()
        expiry = self._cutoff(self.index.group(group))
        too_old = [i for i, (t, _) in enumerate(events) if t < now - MAX_PAST_MS]
        expired = [i for i, (t, _) in enumerate(events) if expiry is not None and t < expiry]
        too_new = [i for i, (t, _) in enumerate(events) if t > now + MAX_FUTURE_MS]
        dropped = set(too_old) | set(expired) | set(too_new)
        self.store.put(group, stream, [event for i, event in enumerate(events) if i not in dropped])
        return Rejected(
            too_new[0] if too_new else None,
            too_old[-1] if too_old else None,
            expired[-1] if expired else None,
        )

    def get_events(
        self,
        group: str,
        stream: str,
        window: tuple[int | None, int | None],
        token: str | None,
        from_head: bool,
        limit: int | None,
    ) -> StreamPage:
        """One GetLogEvents page of ``stream``, events in ``[start, end)`` of ``window``."""
        self.stream(group, stream)
        visible = self._visible(group, self.store.read(group, stream), window)
        visible.sort(key=position)
        try:
            return stream_page(visible, token, from_head, limit or 10_000)
        except BadToken:
            raise LogInvalidParameter("The specified nextToken is invalid.") from None

    def filter_events(
        self,
        group: str,
        streams: StreamQuery,
        window: tuple[int | None, int | None],
        pattern: str | None,
        token: str | None,
        limit: int | None,
    ) -> tuple[list[LogEvent], str | None]:
        """One FilterLogEvents page: matching events of the chosen streams, oldest first."""
        check_stream_query(streams)
        matches = self.matcher(pattern)
        self.group(group)
        start, end = window
        chosen = [
            row
            for row in self.index.streams(group)
            if streams.admits(row.name)
            and row.last_ms is not None
            and (start is None or row.last_ms >= start)
            and (end is None or (row.first_ms or 0) < end)
        ]
        found = [
            event
            for row in chosen
            for event in self._visible(group, self.store.read(group, row.name), window)
            if matches(event.message)
        ]
        found.sort(key=position)
        try:
            return filter_page(found, token, limit or 10_000)
        except BadToken:
            raise LogInvalidParameter("The specified nextToken is invalid.") from None

    def events_since(self, group: str, seq: int, matches: Matcher, streams: StreamQuery) -> list[LogEvent]:
        """The group's events numbered ``seq`` or later, in the order they were stored (for live
        tails and Flare's own log endpoint); none if there is no such group."""
        self.store.flush()
        if self.index.group(group) is None:
            return []
        found = [
            event
            for row in self.index.streams(group)
            if row.last_seq >= seq and streams.admits(row.name)
            for event in self._visible(group, self.store.read(group, row.name), (None, None))
            if event.seq >= seq and matches(event.message)
        ]
        return sorted(found, key=lambda event: event.seq)

    def next_seq(self, group: str) -> int:
        return self.store.next_seq(group)

    @staticmethod
    def matcher(pattern: str | None) -> Matcher:
        """``pattern`` compiled; raises ``InvalidParameterException`` if it does not parse."""
        try:
            return compile_pattern(pattern)
        except FilterPatternError as error:
            raise LogInvalidParameter(f"Invalid filter pattern: {error}") from None

    # ---- retention --------------------------------------------------------------------------

    def _cutoff(self, group: GroupRow | None) -> int | None:
        """Events before this (epoch ms) have expired: the group's retention, else the server's."""
        if group is None:
            return None
        days = (
            group.retention_days if group.retention_days is not None else self.limits.default_retention_days
        )
        return None if days is None else self.now_ms() - days * DAY_MS

    def _visible(
        self, group: str, events: Iterable[LogEvent], window: tuple[int | None, int | None]
    ) -> list[LogEvent]:
        cutoff = self._cutoff(self.index.group(group))
        start = max(window[0] or 0, cutoff or 0)
        end = window[1]
        return [e for e in events if e.timestamp_ms >= start and (end is None or e.timestamp_ms < end)]

    def sweep(self) -> int:
        """Delete every stream whose newest event is past its group's retention, then the
        oldest streams of any group past ``max_group_bytes``; how many."""
        self.store.flush()
        removed = 0
        for group in self.index.groups():
            cutoff = self._cutoff(group)
            expired: list[StreamRow] = []
            kept: list[StreamRow] = []
            for row in self.index.streams(group.name):
                old = cutoff is not None and row.last_ms is not None and row.last_ms < cutoff
                (expired if old else kept).append(row)
            doomed = [row.name for row in expired] + over_budget(kept, self.limits.max_group_bytes)
            for name in doomed:
                self.index.delete_stream(group.name, name)
                self.store.forget_stream(group.name, name)
                removed += 1
        return removed

    def start(self) -> None:
        """Sweep now and every ``SWEEP_INTERVAL_S`` of the clock until ``close``."""
        self.sweep()
        self._sweeper = self._clock.call_later(SWEEP_INTERVAL_S, self.start)

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self.store.close()
