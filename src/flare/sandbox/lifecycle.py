"""An execution environment's lifecycle: the states, and the one table of allowed moves.

::

    STARTING ──▶ INITIALISING ──▶ IDLE ⇄ BUSY
        │              │            │      │
        └──────────────┴──▶ FAILED ◀┴──────┘
                               │
    (any live state) ──▶ STOPPING ──▶ STOPPED

STARTING: the process is being forked. INITIALISING: the runtime and the function's init code
run (Lambda's INIT). IDLE: waiting, frozen, for an event. BUSY: one invocation in flight.
FAILED: the environment cannot serve again (init error, timeout, crash) and must be stopped.
STOPPING: SHUTDOWN in progress (SIGTERM, grace, SIGKILL). STOPPED: gone, resources released.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

from flare.errors import IllegalTransition


class EnvState(enum.Enum):
    STARTING = "starting"
    INITIALISING = "initialising"
    IDLE = "idle"
    BUSY = "busy"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code


ALLOWED: dict[EnvState, frozenset[EnvState]] = {
    EnvState.STARTING: frozenset({EnvState.INITIALISING, EnvState.FAILED, EnvState.STOPPING}),
    EnvState.INITIALISING: frozenset({EnvState.IDLE, EnvState.FAILED, EnvState.STOPPING}),
    EnvState.IDLE: frozenset({EnvState.BUSY, EnvState.FAILED, EnvState.STOPPING}),
    EnvState.BUSY: frozenset({EnvState.IDLE, EnvState.FAILED, EnvState.STOPPING}),
    EnvState.FAILED: frozenset({EnvState.STOPPING}),
    EnvState.STOPPING: frozenset({EnvState.STOPPED}),
    EnvState.STOPPED: frozenset(),
}


class Watchers(Protocol):
    """Whether anyone watches lifecycles now (``observe.live_feed.LiveFeed``): a plain
    attribute, read on every move."""

    active: bool


class Stateful(Protocol):
    """Anything with a lifecycle state: an environment, or a model's stand-in for one (what the
    pure placement decisions read)."""

    @property
    def state(self) -> EnvState: ...


class Lifecycle:
    """Holds one environment's state; ``move`` is the only way to change it. ``observer`` is
    told each new state after the move while ``watchers.active`` (it must not move the
    lifecycle itself); with nobody watching a move costs one attribute read more."""

    __slots__ = ("observer", "state", "watchers")

    def __init__(
        self, observer: Callable[[EnvState], None] | None = None, watchers: Watchers | None = None
    ) -> None:
        self.state = EnvState.STARTING
        self.observer = observer
        self.watchers = watchers

    def move(self, to: EnvState) -> None:
        """Change state; raises ``IllegalTransition`` if the table does not allow it."""
        if to not in ALLOWED[self.state]:
            raise IllegalTransition(self.state, to)
        self.state = to
        watchers = self.watchers
        if watchers is not None and watchers.active and self.observer is not None:
            self.observer(to)

    def can_move(self, to: EnvState) -> bool:
        return to in ALLOWED[self.state]

    @property
    def live(self) -> bool:
        """Not yet stopping or stopped."""
        return self.state not in (EnvState.STOPPING, EnvState.STOPPED)
