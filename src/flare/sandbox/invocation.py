"""One invocation as the sandbox sees it, and what comes back."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Invocation:
    """An event to deliver. ``client_context`` is the decoded JSON text (not base64)."""

    request_id: str
    payload: bytes
    invoked_arn: str
    trace_id: str
    client_context: str | None = None
    tenant_id: str | None = None


@dataclass
class Outcome:
    """How the runtime answered. ``error_type`` is None on success.

    ``healthy`` is False when the environment must not serve again (timeout, crash).
    """

    payload: bytes
    error_type: str | None = None
    healthy: bool = True
    max_rss_kb: int = 0
    log_lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InvocationResult:
    """What the edge answers with: payload, ``X-Amz-Function-Error``, the invocation's log."""

    payload: bytes
    function_error: str | None
    executed_version: str
    log: str
