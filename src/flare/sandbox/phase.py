"""What the live feed (``observe/live_feed.py``) sees of an environment: its ``Phase``, told
from its lifecycle state, whether its processes are frozen, and whether its INIT is a SnapStart
restore. Pure: reads the environment, changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flare.observe.live_feed import EnvironmentSeen, Phase
from flare.sandbox.lifecycle import EnvState

if TYPE_CHECKING:
    from flare.sandbox.environment import Environment

_PHASES = {
    EnvState.STARTING: Phase.STARTING,
    EnvState.INITIALISING: Phase.INITIALIZING,
    EnvState.IDLE: Phase.IDLE,
    EnvState.BUSY: Phase.BUSY,
    EnvState.FAILED: Phase.FAILED,
    EnvState.STOPPING: Phase.SHUTTING_DOWN,
    EnvState.STOPPED: Phase.GONE,
}


def phase_of(state: EnvState, frozen: bool, restoring: bool) -> Phase:
    """The phase of an environment in ``state``: IDLE and ``frozen`` is FROZEN, INITIALISING
    and ``restoring`` (a SnapStart restore) is RESTORING."""
    if state is EnvState.IDLE and frozen:
        return Phase.FROZEN
    if state is EnvState.INITIALISING and restoring:
        return Phase.RESTORING
    return _PHASES[state]


def seen(env: Environment, at: float) -> EnvironmentSeen:
    """``env`` as the feed shows it at wall-clock time ``at``."""
    version = env.version
    frozen = env.process is not None and env.process.frozen
    return EnvironmentSeen(
        at,
        version.account_id,
        version.region,
        version.name,
        version.version,
        env.id,
        version.memory_mb,
        env.initialization_type,
        phase_of(env.state, frozen, env.initialization_type == "snap-start"),
    )
