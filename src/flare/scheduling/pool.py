"""Execution environments per function version: which one serves the next invocation.

``# version key (name, version, revision) => idle environments, warmest last``

One environment serves one invocation at a time. ``reserve`` hands out a warm idle environment
when there is one, else starts a new one (a cold start). ``release`` freezes a healthy
environment and parks it, with an idle timer (SHUTDOWN after ``idle_timeout_s`` of this pool's
clock); anything else is stopped. When a function changes, ``retire(name)`` stops its idle
environments, and busy ones of an older revision are stopped on release.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from flare.clock import Clock, TimerHandle
from flare.control.model import LATEST, FunctionVersion
from flare.sandbox.environment import Environment
from flare.sandbox.lifecycle import EnvState

log = logging.getLogger("flare.pool")

FREEZE_DELAY_S = 0.001

EnvironmentFactory = Callable[[FunctionVersion, "Pool"], Environment]


def choose_idle(idle: list[Environment]) -> Environment | None:
    """Pop the environment to reuse from ``idle``: the most recently used one that is still IDLE
    (warmest caches; the others age out first). Entries above it that are no longer IDLE are
    dropped (their own exit handling stops them). Takes no locks and reads no clock."""
    while idle:
        env = idle.pop()
        if env.state is EnvState.IDLE:
            return env
    return None


class Pool:
    def __init__(
        self,
        factory: EnvironmentFactory,
        clock: Clock,
        idle_timeout_s: float,
        init_timeout_s: float,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self.idle_timeout_s = idle_timeout_s
        self.init_timeout_s = init_timeout_s
        self._idle: dict[tuple[str, str, str], list[Environment]] = {}
        self._busy: set[Environment] = set()
        self._idle_timers: dict[Environment, TimerHandle] = {}
        self._current_revision: dict[tuple[str, str], str] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._closed = False
        self._to_freeze: list[Environment] = []
        self._freeze_timer: TimerHandle | None = None

    def __repr__(self) -> str:
        idle = sum(len(envs) for envs in self._idle.values())
        return f"<Pool idle={idle} busy={len(self._busy)}>"

    def environments(self) -> list[Environment]:
        return [*self._busy, *(env for envs in self._idle.values() for env in envs)]

    async def reserve(self, version: FunctionVersion, init_limit_s: float | None = None) -> Environment:
        """A warm idle environment for ``version``, else a newly started one (cold start).

        A new environment whose INIT failed is returned FAILED with ``init_failure`` set.
        """
        self._current_revision[(version.name, version.version)] = version.revision_id
        env = choose_idle(self._idle.get(version.key, []))
        if env is not None:
            self._unpark(env)
            self._busy.add(env)
            return env
        env = self._factory(version, self)
        self._busy.add(env)
        try:
            await env.start(self.init_timeout_s if init_limit_s is None else init_limit_s)
        except BaseException:
            self.release(env)
            raise
        return env

    def has_idle(self, version: FunctionVersion) -> bool:
        """Whether ``reserve(version)`` would be warm now."""
        return any(env.state is EnvState.IDLE for env in self._idle.get(version.key, ()))

    def release(self, env: Environment) -> None:
        """Give an environment back after its caller has been answered."""
        self._busy.discard(env)
        current = self._current_revision.get((env.version.name, env.version.version))
        stale = current != env.version.revision_id
        if env.state is EnvState.IDLE and not stale and not self._closed:
            self._park(env)
        else:
            self._stop_later(env)

    def environment_exited(self, env: Environment) -> None:
        """Called by an environment whose process died on its own: drop it if it was idle."""
        idle = self._idle.get(env.version.key)
        if idle and env in idle:
            idle.remove(env)
            self._unpark(env)
            self._stop_later(env)

    def retire(self, name: str, revision_id: str | None = None, version: str = LATEST) -> None:
        """``version`` of function ``name`` now has ``revision_id`` (None: the function was
        deleted, every version goes): stop the idle environments of older revisions now; busy
        ones are stopped when released."""
        if revision_id is None:
            for known in [known for known in self._current_revision if known[0] == name]:
                del self._current_revision[known]
        else:
            self._current_revision[(name, version)] = revision_id
        stale = [
            key for key in self._idle if key[0] == name and self._current_revision.get(key[:2]) != key[2]
        ]
        for key in stale:
            for env in self._idle.pop(key):
                self._unpark(env)
                self._stop_later(env)

    # ---- parking: the idle list, the idle timer and the batched freeze ---------------------

    def _park(self, env: Environment) -> None:
        """Make ``env`` idle: frozen within ``FREEZE_DELAY_S`` and shut down after the idle TTL.

        The freeze is batched (one timer for every environment parked in the window) and
        skipped for an environment that is busy again by then: under load an environment is
        often reused within the window and then costs neither a SIGSTOP nor a SIGCONT.
        """
        self._idle.setdefault(env.version.key, []).append(env)
        self._idle_timers[env] = self._clock.call_later(self.idle_timeout_s, lambda: self._expire(env))
        self._to_freeze.append(env)
        if self._freeze_timer is None:
            self._freeze_timer = self._clock.call_later(FREEZE_DELAY_S, self._freeze_parked)

    def _unpark(self, env: Environment) -> None:
        """Undo ``_park``'s timers for ``env`` (the caller removes it from the idle list)."""
        timer = self._idle_timers.pop(env, None)
        if timer is not None:
            timer.cancel()
        if env in self._to_freeze:
            self._to_freeze.remove(env)
            if not self._to_freeze and self._freeze_timer is not None:
                self._freeze_timer.cancel()
                self._freeze_timer = None

    def _freeze_parked(self) -> None:
        self._freeze_timer = None
        parked, self._to_freeze = self._to_freeze, []
        for env in parked:
            env.freeze()

    async def close(self) -> None:
        """Stop every environment (SHUTDOWN for each, in parallel) and wait for them."""
        self._closed = True
        if self._freeze_timer is not None:
            self._freeze_timer.cancel()
            self._freeze_timer = None
        for timer in self._idle_timers.values():
            timer.cancel()
        self._idle_timers.clear()
        for env in [*self._busy, *(env for envs in self._idle.values() for env in envs)]:
            self._stop_later(env)
        self._idle.clear()
        self._busy.clear()
        while self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    def _expire(self, env: Environment) -> None:
        idle = self._idle.get(env.version.key)
        if idle and env in idle:
            idle.remove(env)
            self._unpark(env)
            log.debug("%r idle for %ss: shutting down", env, self.idle_timeout_s)
            self._stop_later(env)

    def _stop_later(self, env: Environment) -> None:
        task = asyncio.get_running_loop().create_task(env.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)
