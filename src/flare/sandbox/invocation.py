"""One invocation as the sandbox sees it, and what comes back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flare.observe.live_feed import Start
from flare.sandbox.streaming import StreamSink


@dataclass(frozen=True, slots=True)
class Invocation:
    """An event to deliver. ``client_context`` is the decoded JSON text (not base64);
    ``tenant_id`` the ``X-Amz-Tenant-Id`` it was invoked with (tenant-isolated functions).
    ``sink`` takes a streamed response as it comes (see ``streaming``); without one it is
    gathered. ``source`` says what invoked it (one of ``SOURCES``), for the trace."""

    request_id: str
    payload: bytes
    invoked_arn: str
    trace_id: str
    client_context: str | None = None
    tenant_id: str | None = None
    sink: StreamSink | None = None
    source: str = "sync"


# What may invoke a function: an Invoke (RequestResponse, or streamed), a function URL, the async
# queue (Event), an event source mapping, a schedule, a durable execution.
SOURCES = ("sync", "url", "async", "mapping", "schedule", "durable")


@dataclass(slots=True)
class Outcome:
    """How the runtime answered. ``error_type`` is None on success.

    ``healthy`` is False when the environment must not serve again (timeout, crash).
    ``undelivered``: the runtime ended before it took the invocation, which never began there.
    """

    payload: bytes
    error_type: str | None = None
    healthy: bool = True
    max_rss_kb: int = 0
    log_lines: list[str] = field(default_factory=list)
    undelivered: bool = False


class InvocationLog:
    """One invocation's log lines (START, the function's output, END, REPORT), built once, when
    first asked for.

    Building them (the REPORT line, the memory peak, the last output in the pipe) waits until
    the caller has its answer, unless the caller wants them in the answer (``LogType=Tail``).
    """

    __slots__ = ("_build", "_lines")

    def __init__(self, build: Callable[[], list[str]]) -> None:
        self._build: Callable[[], list[str]] | None = build
        self._lines: list[str] = []

    @classmethod
    def of(cls, lines: list[str]) -> InvocationLog:
        """A log already built."""
        return cls(lambda: lines)

    def lines(self) -> list[str]:
        if self._build is not None:
            build, self._build = self._build, None
            self._lines = build()
        return self._lines

    @property
    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines())


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """What the edge answers with: payload, ``X-Amz-Function-Error``, the invocation's log, and
    the error's type (``errorType``) when there was one. ``undelivered``: the environment's
    runtime ended before it took the invocation (see ``Outcome``); run it elsewhere.
    ``duration_ms`` is REPORT's Duration as it stood when the runtime answered; ``init_ms`` the
    INIT this invocation waited for (an on-demand cold start), ``restore_ms`` the SnapStart
    restore it waited for; None when there was none."""

    payload: bytes
    function_error: str | None
    executed_version: str
    log: InvocationLog
    error_type: str | None = None
    undelivered: bool = False
    duration_ms: float | None = None
    init_ms: float | None = None
    restore_ms: float | None = None

    @property
    def start(self) -> Start:
        """Cold (an INIT ran for it), restore (a SnapStart restore did) or warm."""
        if self.restore_ms is not None:
            return Start.RESTORE
        return Start.WARM if self.init_ms is None else Start.COLD

    @property
    def waited_ms(self) -> float | None:
        """The INIT or restore it waited for (cold or restore); None when warm."""
        return self.init_ms if self.init_ms is not None else self.restore_ms
