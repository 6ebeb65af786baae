"""Whether a function's environments run under a debugger, from its environment variables
(Python functions: debugpy; Node.js functions: Node's inspector).

A function is debugged when its ``FLARE_DEBUG`` variable is on (``1``, ``true``, ``yes``, ``on``;
any case). Two more variables tune it:

* ``FLARE_DEBUG_PORT``: the first host port tried for the debug server (default 5678; 1024-65535).
  A second live environment of the function (or of another debugged function) takes the next
  free one (``sandbox/debug_ports.py``).
* ``FLARE_DEBUG_WAIT``: seconds INIT waits for a debugger to attach before it goes on without one
  (default 30, at most 600; 0: do not wait).

Being environment variables, they are set with ``CreateFunction`` / ``UpdateFunctionConfiguration``
and so only by an identity allowed those actions (IAM already decides). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEBUG_VARIABLE = "FLARE_DEBUG"
PORT_VARIABLE = "FLARE_DEBUG_PORT"
WAIT_VARIABLE = "FLARE_DEBUG_WAIT"
DEFAULT_PORT = 5678
DEFAULT_WAIT_S = 30.0
MAX_WAIT_S = 600.0
LOWEST_PORT, HIGHEST_PORT = 1024, 65535
DEBUG_TIMEOUT_S = 900.0
"""A debugged invocation's timeout, whatever the function's: Lambda's maximum, as AWS's remote
debugging (the AWS Toolkit for VS Code) raises a function's timeout to 900 s for its session."""
_ON = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class DebugSettings:
    """How a debugged function's environments start their debug server."""

    port: int = DEFAULT_PORT
    wait_s: float = DEFAULT_WAIT_S


def is_debugged(variables: Mapping[str, str]) -> bool:
    """Whether ``variables`` turn debugging on (``FLARE_DEBUG``), whatever the other two say."""
    return variables.get(DEBUG_VARIABLE, "").strip().lower() in _ON


def debug_settings(variables: Mapping[str, str]) -> DebugSettings | None:
    """The debug settings ``variables`` ask for; None when ``FLARE_DEBUG`` is absent or off.
    Raises ValueError (its message for the user) for a port or wait out of range."""
    if not is_debugged(variables):
        return None
    port = _number(variables, PORT_VARIABLE, DEFAULT_PORT, LOWEST_PORT, HIGHEST_PORT)
    wait_s = _number(variables, WAIT_VARIABLE, DEFAULT_WAIT_S, 0, MAX_WAIT_S)
    return DebugSettings(int(port), wait_s)


def _number(variables: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = variables.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if name == PORT_VARIABLE else float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, not {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, not {raw!r}")
    return value
