"""Spares: Node.js environments started ahead of their cold start.

A Python environment forks from a zygote that has the interpreter loaded (~5 ms); ``node``
cannot be forked loaded, and starting it costs ~45 ms here. So for each Node.js version that
was deployed, changed or just cold-started, one environment is spawned in the background
(sandbox, cgroup, credentials, ``node`` with Flare's runtime client loaded) and held before it
loads the function (``Environment.prestart``); the next cold start of that version takes it and
releases it, and its INIT (loading the function) begins then, as Lambda's does. A cold start
starts the next spare a little later (``REPLACE_AFTER_S``), off its own CPU.

A spare of a Node.js version is, where the sandbox allows it, *late-bound*
(``sandbox/late_binding.py``): started for no function in particular, it serves any version
with its ``LateKey`` (runtime, memory, ephemeral storage), and is given one when taken
(``Environment.adopt``: the code mounted at its /var/task, its variables and credentials). So
a function that was just updated, or just created, finds a spare its change did not have to
start: the cold start right after an update no longer waits for ``node`` to boot.

A spare holds memory (~30 MB) and a sandbox uid while it waits: at most ``limit`` are kept, the
oldest given up first, and one nobody took within ``idle_s`` of the clock (the pool's idle
timeout: as long as an idle environment would have lived) is stopped. A spare of an older
revision of its version is never taken: it is stopped (late-bound ones belong to no version).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable

from flare.clock import Clock, SystemClock, TimerHandle
from flare.control.debug_settings import is_debugged
from flare.control.model import FunctionVersion, VersionKey
from flare.sandbox.environment import Environment
from flare.sandbox.java_runtime import wanted_major as java_major
from flare.sandbox.late_binding import LateKey
from flare.sandbox.lifecycle import EnvState
from flare.sandbox.node_runtime import wanted_major

log = logging.getLogger("flare.spares")
DEFAULT_LIMIT = 8
DEFAULT_IDLE_S = 600.0
REPLACE_AFTER_S = 0.2  # a cold start's INIT is over by then, mostly: the next spare's start waits
SpareKey = VersionKey | LateKey
LATE_SPARES_PER_KEY = 2  # every function of a late key draws on them: two cold starts in a row find one


def wants_spare(version: FunctionVersion, snap_start: bool) -> bool:
    """Whether ``version``'s cold starts are served from spares: Node.js or Java, on demand, a
    function without tenant isolation (a tenant's environments are its own), no SnapStart, not
    debugged (``FLARE_DEBUG``: a spare would hold a debug port while nobody can attach to it,
    and a debugged INIT waits for the editor anyway)."""
    exec_runtime = wanted_major(version.runtime) is not None or java_major(version.runtime) is not None
    one_for_all = version.tenant_id is None and not version.tenant_isolated
    return exec_runtime and one_for_all and not snap_start and not is_debugged(version.environment)


class Spares:
    """At most one spare per key (``late_key_of`` a version, else its version key), ``limit``
    in all, each kept ``idle_s`` at most; ``factory`` makes an environment."""

    def __init__(
        self,
        factory: Callable[[FunctionVersion], Environment],
        limit: int = DEFAULT_LIMIT,
        clock: Clock | None = None,
        idle_s: float = DEFAULT_IDLE_S,
        late_key_of: Callable[[FunctionVersion], LateKey | None] = lambda version: None,
    ) -> None:
        self._factory = factory
        self._late_key_of = late_key_of
        self._limit = limit
        self._clock: Clock = clock or SystemClock()
        self._idle_s = idle_s
        self._spares: dict[SpareKey, Environment] = {}  # oldest first
        self._expiry: dict[SpareKey, TimerHandle] = {}
        self._starting: dict[SpareKey, asyncio.Task[None]] = {}
        self._retired: set[SpareKey] = set()  # starting when their function changed
        self._stopping: set[asyncio.Task[None]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"<Spares ready={len(self._spares)} starting={len(self._starting)}>"

    def prepare(self, version: FunctionVersion) -> None:
        """Start in the background a spare ``version`` may have (late-bound when it has a late
        key) that is neither there nor starting; one at a time per key, the next once it
        has started (so a first invoke right after a deploy shares the CPU with one boot)."""
        keys = self._keys(version)
        if self._closed or any(key in self._starting for key in keys):
            return
        missing = next((key for key in keys if key not in self._spares), None)
        if missing is not None:
            self._start(version, missing)

    def _start(self, version: FunctionVersion, key: SpareKey) -> None:
        while self._spares and len(self._spares) + len(self._starting) >= self._limit:
            self._discard(next(iter(self._spares)))
        env = self._factory(version)
        task = asyncio.get_running_loop().create_task(env.prestart(late_bound=isinstance(key, LateKey)))
        self._starting[key] = task
        task.add_done_callback(lambda done: self._started(key, env, done))

    def _started(self, key: SpareKey, env: Environment, task: asyncio.Task[None]) -> None:
        self._starting.pop(key, None)
        retired = key in self._retired
        self._retired.discard(key)
        if task.cancelled() or task.exception() is not None or self._closed or retired:
            if not task.cancelled() and task.exception() is not None:
                log.warning("a spare for %s did not start: %s", key, task.exception())
            self._stop(env)
            return
        self._spares[key] = env
        self._expiry[key] = self._clock.call_later(self._idle_s, lambda: self._expire(key))
        if isinstance(key, LateKey):
            self.prepare(env.version)  # the key's next slot, if it has one empty

    def _expire(self, key: SpareKey) -> None:
        """Nobody took ``key``'s spare in time: it goes."""
        log.debug("a spare for %s was not taken in %ss: stopping it", key, self._idle_s)
        self._discard(key)

    def _discard(self, key: SpareKey) -> None:
        env = self._pop(key)
        if env is not None:
            self._stop(env)

    def _pop(self, key: SpareKey) -> Environment | None:
        """Take ``key``'s spare out (its expiry with it); None without one."""
        expiry = self._expiry.pop(key, None)
        if expiry is not None:
            expiry.cancel()
        return self._spares.pop(key, None)

    async def take(self, version: FunctionVersion) -> Environment | None:
        """``version``'s spare if one is ready and alive (a late-bound one given ``version``),
        after waiting for one that is starting (it is ahead of a new one); None without one.
        The caller ``prepare``s the next."""
        keys = self._keys(version)
        key = next((key for key in keys if key in self._spares), None)
        if key is None:
            key = next((key for key in keys if key in self._starting), keys[0])
            starting = self._starting.get(key)
            if starting is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(starting)
        env = self._pop(key)
        if env is None:
            return None
        if env.state is not EnvState.STARTING or env.process is None or not env.process.alive:
            self._stop(env)
            return None
        if isinstance(key, LateKey):
            try:
                env.adopt(version)
            except OSError as error:
                log.warning("a spare for %s could not take %s's code: %s", key, version.name, error)
                self._stop(env)
                return None
        return env

    def _keys(self, version: FunctionVersion) -> list[SpareKey]:
        """The keys of ``version``'s spares: ``LATE_SPARES_PER_KEY`` late-bound ones when it
        has a late key (they serve every function of that key), else one of its own."""
        late = self._late_key_of(version)
        if late is None:
            return [version.key]
        return [dataclasses.replace(late, slot=slot) for slot in range(LATE_SPARES_PER_KEY)]

    def retire(self, name: str) -> None:
        """Function ``name`` changed or is gone: stop its spares (they have its old settings;
        late-bound spares have none)."""
        for key in [key for key in self._spares if _of_function(key, name)]:
            self._discard(key)
        self._retired.update(key for key in self._starting if _of_function(key, name))

    async def close(self) -> None:
        """Stop every spare and every start in progress."""
        self._closed = True
        for task in self._starting.values():
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._starting.values(), return_exceptions=True)
        for expiry in self._expiry.values():
            expiry.cancel()
        self._expiry.clear()
        spares, self._spares = list(self._spares.values()), {}
        await asyncio.gather(*(env.stop() for env in spares), *self._stopping, return_exceptions=True)

    def _stop(self, env: Environment) -> None:
        task = asyncio.get_running_loop().create_task(env.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)


def _of_function(key: SpareKey, name: str) -> bool:
    return not isinstance(key, LateKey) and key[0] == name
