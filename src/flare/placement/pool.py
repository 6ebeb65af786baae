"""Execution environments per function version: which one serves the next invocation.

Two tiers, each keyed by version key (name, version, revision, tenant)::

    _idle              version key => idle on-demand environments, warmest last
    _provisioned_idle  version key => idle provisioned environments, warmest last
    _provisioned       every live provisioned environment (starting, idle or busy), by version key
    _tenant_envs       function name => its live tenant environments (starting, idle or busy)

A tenant-isolated function is reserved through per-tenant views of its versions
(``FunctionVersion.for_tenant``), whose key holds the tenant: an environment started for one
tenant is parked, found and reused under that tenant's key only, so it never serves another.
Their idle lists are dropped once empty (tenants come and go); ``tenant_environments(name)``
counts them for the router's limit.

One environment serves one invocation at a time. ``reserve`` hands out a warm idle on-demand
environment when there is one, else starts a new one (a cold start). ``release`` records the
invocation's log, then freezes a healthy environment and parks it until SHUTDOWN after
``idle_timeout_s`` of this pool's clock (one timer for the pool); anything else is stopped.
When a function changes, ``retire(name)`` stops its idle environments, and busy ones of an
older revision are stopped on release.

Provisioned environments are made by ``add_provisioned`` and started up front by
``start_provisioned`` (INIT with ``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``),
handed out by ``try_reserve_provisioned`` and parked again on release with no idle timer: only
``retire_provisioned`` (or a stale revision, or death) ends one. Whenever a provisioned
environment that ``start_provisioned`` made ready leaves the tier, ``on_provisioned_gone(env)``
is called once (never for one whose start failed, nor after ``close``), so its owner
(``placement.prewarm.Provisioner``) can release its lease and replace it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import TypeVar

from flare.clock import Clock, TimerHandle
from flare.control.model import LATEST, FunctionVersion, VersionKey
from flare.placement.freeze_window import FreezeWindow
from flare.sandbox.environment import Environment
from flare.sandbox.lifecycle import EnvState, Stateful

log = logging.getLogger("flare.pool")


PROVISIONED_INIT = "provisioned-concurrency"

EnvironmentFactory = Callable[[FunctionVersion, "Pool"], Environment]
E = TypeVar("E", bound=Stateful)
K = TypeVar("K", bound=Hashable)


async def _no_spare(version: FunctionVersion) -> Environment | None:
    return None


def choose_idle(idle: list[E]) -> E | None:
    """Pop the environment to reuse from ``idle``: the most recently used one that is still IDLE
    (warmest caches; the others age out first). Entries above it that are no longer IDLE are
    dropped (their own exit handling stops them). Takes no locks and reads no clock."""
    while idle:
        env = idle.pop()
        if env.state is EnvState.IDLE:
            return env
    return None


def idle_expired(
    parked_at: Mapping[K, float], idle_timeout_s: float, now: float
) -> tuple[list[K], float | None]:
    """Which of ``parked_at`` (environment => when it was parked, in parking order) have been
    idle for ``idle_timeout_s`` at ``now`` and shut down: those, oldest first, and when the next
    of the others comes due (None: none is left). Changes nothing; reads no clock."""
    expired: list[K] = []
    for env, parked in parked_at.items():
        due = parked + idle_timeout_s
        if due > now:
            return expired, due
        expired.append(env)
    return expired, None


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
        self._idle: dict[VersionKey, list[Environment]] = {}
        self._busy: set[Environment] = set()
        # idle on-demand environment => when it was parked, longest idle first
        self._parked_at: dict[Environment, float] = {}
        self._reaper: TimerHandle | None = None
        self._current_revision: dict[tuple[str, str], str] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._closed = False
        self._freezing = FreezeWindow(clock)  # parked environments, frozen once idle a while
        # version key => idle provisioned environments, warmest last
        self._provisioned_idle: dict[VersionKey, list[Environment]] = {}
        # every live provisioned environment: starting, idle or busy (and by version key)
        self._provisioned: set[Environment] = set()
        self._provisioned_by_key: dict[VersionKey, set[Environment]] = {}
        # provisioned environments whose INIT is in progress (a subset of _provisioned)
        self._starting: set[Environment] = set()
        # busy provisioned environments no longer wanted: stopped on release
        self._retiring: set[Environment] = set()
        self.on_provisioned_gone: Callable[[Environment], None] = lambda env: None
        # function name => live environments started for one of its tenants
        self._tenant_envs: dict[str, set[Environment]] = {}
        # an environment started ahead of this cold start, if any (placement/spares.py)
        self.take_spare: Callable[[FunctionVersion], Awaitable[Environment | None]] = _no_spare

    def __repr__(self) -> str:
        idle = sum(len(envs) for envs in self._idle.values())
        provisioned = f" provisioned={len(self._provisioned)}" if self._provisioned else ""
        return f"<Pool idle={idle} busy={len(self._busy)}{provisioned}>"

    def environments(self) -> list[Environment]:
        idle = (env for envs in self._idle.values() for env in envs)
        return list({*self._busy, *idle, *self._provisioned, *self._retiring})

    async def reserve(self, version: FunctionVersion, init_limit_s: float | None = None) -> Environment:
        """A warm idle environment for ``version``, else a newly started one (cold start).

        A new environment whose INIT failed is returned FAILED with ``init_failure`` set.
        """
        self._current_revision[(version.name, version.version)] = version.revision_id
        env = choose_idle(self._idle.get(version.key, []))
        if env is not None:
            self._unpark(env)
            self._busy.add(env)
            if version.tenant_id is not None:
                self._drop_empty(version.key)
            return env
        env = await self.take_spare(version) or self._factory(version, self)
        self._busy.add(env)
        if version.tenant_id is not None:
            self._tenant_envs.setdefault(version.name, set()).add(env)
        try:
            if init_limit_s is None:
                await env.start(self.init_timeout_s)
            else:  # a suppressed INIT: inside the invocation, at the memory size's CPU share
                await env.start(init_limit_s, cpu_burst=False)
        except BaseException:
            self.release(env)
            raise
        return env

    def busy(self) -> int:
        """Environments serving an invocation now (CloudWatch's ConcurrentExecutions)."""
        return len(self._busy)

    def tenant_environments(self, name: str) -> int:
        """Live environments (starting, busy or idle) started for tenants of function ``name``."""
        return len(self._tenant_envs.get(name, ()))

    def has_idle(self, version: FunctionVersion) -> bool:
        """Whether ``reserve(version)`` would be warm now."""
        return any(env.state is EnvState.IDLE for env in self._idle.get(version.key, ()))

    def release(self, env: Environment) -> None:
        """Give an environment back after its caller has been answered (its log is recorded
        now, off the answer's path); one whose extensions still handle the invocation stays
        busy until they are done (Lambda's post-runtime phase)."""
        holding = env.post_invoke_pending()
        if holding is not None:
            holding.add_done_callback(lambda _: self.release(env))
            return
        env.settle()
        self._busy.discard(env)
        reusable = env.state is EnvState.IDLE and not self._stale(env) and not self._closed
        if env in self._provisioned or env in self._retiring:
            if reusable and env in self._provisioned:
                self._park_provisioned(env)
            else:
                self._drop_provisioned(env)
        elif reusable:
            self._park(env)
        else:
            self._stop_later(env)

    def environment_exited(self, env: Environment) -> None:
        """Called by an environment whose process died on its own: drop it if it was idle
        (a busy one is dropped on release, a starting one by ``start_provisioned``)."""
        if env in self._busy or env in self._starting:
            return
        if env in self._provisioned:
            self._drop_provisioned(env)
            return
        idle = self._idle.get(env.version.key)
        if idle and env in idle:
            idle.remove(env)
            self._unpark(env)
            self._stop_later(env)
            self._drop_empty(env.version.key)

    # ---- provisioned environments ---------------------------------------------------------

    def add_provisioned(self, version: FunctionVersion) -> Environment:
        """A new provisioned environment for ``version``, counted in ``provisioned(key)`` at
        once; its INIT has not begun: ``start_provisioned`` runs it."""
        self._current_revision.setdefault((version.name, version.version), version.revision_id)
        env = self._factory(version, self)
        self._provisioned.add(env)
        self._provisioned_by_key.setdefault(env.version.key, set()).add(env)
        self._starting.add(env)
        return env

    async def start_provisioned(self, env: Environment, init_limit_s: float) -> bool:
        """Run INIT of ``env`` (from ``add_provisioned``) with initialization type
        ``provisioned-concurrency`` and limit ``init_limit_s``.

        True: ``env`` is ready and parked idle in the provisioned tier (frozen, no idle timer).
        False: INIT failed (``init_failure`` is set), or ``env`` was retired, went stale or the
        pool closed meanwhile; it is stopped and ``on_provisioned_gone`` is not called for it.
        """
        try:
            await env.start(init_limit_s, PROVISIONED_INIT)
        except BaseException:
            self._forget_starting(env)
            raise
        self._starting.discard(env)
        wanted = env in self._provisioned and not self._stale(env) and not self._closed
        if env.init_failure is not None or env.state is not EnvState.IDLE or not wanted:
            self._forget_starting(env)
            return False
        self._park_provisioned(env)
        return True

    def _forget_starting(self, env: Environment) -> None:
        self._starting.discard(env)
        self._discard_provisioned(env)
        self._stop_later(env)

    def is_provisioned(self, env: Environment) -> bool:
        """Whether ``env`` is a live, wanted provisioned environment."""
        return env in self._provisioned

    def provisioned(self, key: VersionKey) -> list[Environment]:
        """The live provisioned environments of version key ``key`` (starting, idle or busy)."""
        return list(self._provisioned_by_key.get(key, ()))

    def _discard_provisioned(self, env: Environment) -> None:
        self._provisioned.discard(env)
        same_version = self._provisioned_by_key.get(env.version.key)
        if same_version is not None:
            same_version.discard(env)
            if not same_version:
                del self._provisioned_by_key[env.version.key]

    def try_reserve_provisioned(self, version: FunctionVersion) -> Environment | None:
        """An idle provisioned environment of ``version``, now busy; None when all are busy
        (or there are none). Starts nothing."""
        idle = self._provisioned_idle.get(version.key)
        if not idle:
            return None
        env = choose_idle(idle)
        if env is None:
            return None
        self._unpark(env)
        self._busy.add(env)
        return env

    def retire_provisioned(self, env: Environment) -> None:
        """``env`` is no longer wanted: an idle one is stopped now (``on_provisioned_gone``), a
        busy one when released, a starting one when its INIT ends."""
        if env not in self._provisioned:
            return
        if env in self._starting:
            self._discard_provisioned(env)
        elif env in self._busy:
            self._discard_provisioned(env)
            self._retiring.add(env)
        else:
            self._drop_provisioned(env)

    def _park_provisioned(self, env: Environment) -> None:
        self._provisioned_idle.setdefault(env.version.key, []).append(env)
        self._freezing.add(env)

    def _drop_provisioned(self, env: Environment) -> None:
        """Stop a provisioned environment that is idle, dead or released for the last time."""
        idle = self._provisioned_idle.get(env.version.key)
        if idle and env in idle:
            idle.remove(env)
        self._unpark(env)
        self._discard_provisioned(env)
        self._retiring.discard(env)
        self._stop_later(env)
        if not self._closed:
            self.on_provisioned_gone(env)

    def _stale(self, env: Environment) -> bool:
        current = self._current_revision.get((env.version.name, env.version.version))
        return current != env.version.revision_id

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
        for key in [key for key in self._provisioned_idle if key[0] == name]:
            for env in [env for env in self._provisioned_idle[key] if self._stale(env)]:
                self._drop_provisioned(env)

    # ---- parking: the idle list, the idle timer and the freeze window ----------------------

    def _park(self, env: Environment) -> None:
        """Make ``env`` idle: frozen once idle ``FREEZE_DELAY_S`` unless reused before
        (``freeze_window.py``), and shut down after the idle TTL, which has one timer for the
        whole pool (``_reap``), not one per parking."""
        self._idle.setdefault(env.version.key, []).append(env)
        self._parked_at[env] = self._clock.now()
        if self._reaper is None:
            self._reaper = self._clock.call_later(self.idle_timeout_s, self._reap)
        self._freezing.add(env)

    def _unpark(self, env: Environment) -> None:
        """Undo ``_park``'s timers for ``env`` (the caller removes it from the idle list)."""
        self._parked_at.pop(env, None)
        if not self._parked_at and self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        self._freezing.discard(env)

    async def close(self) -> None:
        """Stop every environment (SHUTDOWN for each, in parallel) and wait for them."""
        self._closed = True
        self._freezing.close()
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        self._parked_at.clear()
        for env in self.environments():
            self._stop_later(env)
        self._idle.clear()
        self._busy.clear()
        self._provisioned_idle.clear()
        self._provisioned.clear()
        self._provisioned_by_key.clear()
        self._retiring.clear()
        self._tenant_envs.clear()
        while self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    def _reap(self) -> None:
        """SHUTDOWN for each environment idle for ``idle_timeout_s``; then the timer is set for
        the next one to come due (parkings are in time order, so that is the first left)."""
        self._reaper = None
        now = self._clock.now()
        expired, next_due = idle_expired(self._parked_at, self.idle_timeout_s, now)
        for env in expired:
            del self._parked_at[env]
            idle = self._idle.get(env.version.key)
            if idle and env in idle:
                idle.remove(env)
                self._unpark(env)
                log.debug("%r idle for %ss: shutting down", env, self.idle_timeout_s)
                self._stop_later(env)
                self._drop_empty(env.version.key)
        if next_due is not None and self._parked_at:
            self._reaper = self._clock.call_later(next_due - now, self._reap)

    def _drop_empty(self, key: VersionKey) -> None:
        """Forget a tenant's idle list once it is empty (a version's own list stays)."""
        if key[3] is not None and not self._idle.get(key, True):
            del self._idle[key]

    def _stop_later(self, env: Environment) -> None:
        if env.version.tenant_id is not None:
            tenants = self._tenant_envs.get(env.version.name)
            if tenants is not None:
                tenants.discard(env)
                if not tenants:
                    del self._tenant_envs[env.version.name]
        task = asyncio.get_running_loop().create_task(env.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)
