"""Provisioned concurrency, live: keep N initialised environments per version, each holding its
share of the function's concurrency.

``# version key (name, version, revision) => Allocation (target count, failure)``

``Provisioner.set(version, count)`` makes the pool's provisioned tier for ``version`` converge on
``count`` environments. A missing one is made at once (``Pool.add_provisioned``), takes a ledger
lease of its own (``Ledger.hold``: the control plane checked the capacity when it accepted the
config, so the grant does not ask ``decide``) and runs INIT in a task. A surplus one is retired
(``choose_surplus``: starting ones first, then idle, then busy, which finish their invocation).
An environment that dies, crashes or goes is replaced while its version still wants it (the
pool's ``on_provisioned_gone``); its lease goes with it. An INIT that fails is tried again (a
process killed under load is not the function's fault), and so is a start the engine itself
could not make (a sandbox or cgroup refused: logged with its traceback); ``MAX_INIT_FAILURES``
in a row mark the allocation FAILED, and it starts nothing more until the next ``set``.

``status`` and ``choose_surplus`` are pure and tested from tables; ``Provisioner`` applies them.

Contract: used from the event loop's thread; ``close`` before the pool closes.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from flare.control.model import FunctionVersion, VersionKey
from flare.placement.ledger import Lease, Ledger
from flare.placement.pool import Pool
from flare.sandbox.environment import Environment
from flare.sandbox.lifecycle import EnvState, Stateful

log = logging.getLogger("flare.provisioned")

# Provisioned environments INIT up front: Lambda allows 130 s or the timeout, whichever is
# higher, up to 15 minutes (the 10 s on-demand limit does not apply).
PROVISIONED_INIT_FLOOR_S = 130.0
MAX_INIT_S = 900.0
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"
ENGINE_FAILURE = "Flare could not start an environment"  # not the function's fault (no AWS twin)
MAX_INIT_FAILURES = 3


class Status(enum.StrEnum):
    """A config's ``Status``, with AWS's spellings."""

    IN_PROGRESS = "IN_PROGRESS"
    READY = "READY"
    FAILED = "FAILED"


E = TypeVar("E", bound=Stateful)

_SURPLUS_ORDER = {
    EnvState.STARTING: 0,
    EnvState.INITIALISING: 0,
    EnvState.IDLE: 1,
    EnvState.FAILED: 1,
    EnvState.BUSY: 2,
}


def init_limit_s(timeout_s: float) -> float:
    """The INIT limit of a provisioned environment for a function with ``timeout_s``."""
    return min(MAX_INIT_S, max(PROVISIONED_INIT_FLOOR_S, timeout_s))


def choose_surplus(envs: list[E], count: int) -> list[E]:
    """The ``count`` environments of ``envs`` to retire when a target shrinks: those still in
    INIT first (nothing is ready there yet), then idle ones, busy ones last (they finish their
    invocation first). Stable within a rank. Reads nothing else."""
    if count <= 0:
        return []
    ranked = sorted(envs, key=lambda env: _SURPLUS_ORDER.get(env.state, 0))
    return ranked[:count]


def status(requested: int, available: int, failure: str | None) -> Status:
    """A config's Status: FAILED once an INIT failed, READY when ``available`` environments
    (INIT done) cover ``requested``, else IN_PROGRESS."""
    if failure is not None:
        return Status.FAILED
    return Status.READY if available >= requested else Status.IN_PROGRESS


@dataclass
class Allocation:
    """What one version should have: ``target`` provisioned environments; ``failure`` says why
    it stopped trying (None while it tries)."""

    version: FunctionVersion
    target: int
    failure: str | None = None
    failed_inits: int = 0  # in a row


class Provisioner:
    """Provisioned environments per version, converging on targets (see the module docstring)."""

    def __init__(
        self,
        pool: Pool,
        ledger: Ledger,
        on_target: Callable[[FunctionVersion, int], None] = lambda version, count: None,
    ) -> None:
        self._pool = pool
        self._ledger = ledger
        self._on_target = on_target  # told each target set (what is billed: observe/bill.py)
        # version key => what that version should have
        self._allocations: dict[VersionKey, Allocation] = {}
        # provisioned environment => the lease that holds its share of concurrency
        self._leases: dict[Environment, Lease] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        pool.on_provisioned_gone = self._gone

    def __repr__(self) -> str:
        targets = sum(allocation.target for allocation in self._allocations.values())
        return f"<Provisioner versions={len(self._allocations)} target={targets} held={len(self._leases)}>"

    def set(self, version: FunctionVersion, count: int, *, retry: bool = False) -> None:
        """Make ``version`` have ``count`` provisioned environments (0: none). A changed count,
        or ``retry``, clears an earlier failure so INIT is tried again; the same count keeps it."""
        if count < 0:
            raise ValueError("a provisioned target cannot be negative")
        self._on_target(version, count)
        current = self._allocations.get(version.key)
        if count == 0:
            self._allocations.pop(version.key, None)
        elif current is None or current.target != count or retry:
            self._allocations[version.key] = Allocation(version, count)
        self._converge(version.key)

    def reconcile(self, wanted: Mapping[VersionKey, tuple[FunctionVersion, int]]) -> None:
        """``set`` every version in ``wanted`` to its count and every other one to 0."""
        for key in [key for key in self._allocations if key not in wanted]:
            self.set(self._allocations[key].version, 0)
        for version, count in wanted.values():
            self.set(version, count)

    def counts(self, version: FunctionVersion) -> tuple[int, int]:
        """``(allocated, available)`` for ``version``: both count provisioned environments whose
        INIT is done (idle or busy). AWS reports an environment as allocated once it is ready
        (PutProvisionedConcurrencyConfig answers 0 allocated while IN_PROGRESS), and available
        as long as it stays provisioned, busy or not."""
        envs = self._pool.provisioned(version.key)
        ready = sum(1 for env in envs if env.state in (EnvState.IDLE, EnvState.BUSY))
        return ready, ready

    def failure(self, version: FunctionVersion) -> str | None:
        allocation = self._allocations.get(version.key)
        return None if allocation is None else allocation.failure

    def targets(self) -> dict[VersionKey, int]:
        return {key: allocation.target for key, allocation in self._allocations.items()}

    async def settle(self) -> None:
        """Wait until no INIT started by this provisioner is still running."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop converging and wait for INITs in flight; the pool stops the environments."""
        self._closed = True
        self._allocations.clear()
        for task in self._tasks:
            task.cancel()
        await self.settle()

    def _converge(self, key: VersionKey) -> None:
        if self._closed:
            return
        allocation = self._allocations.get(key)
        envs = self._pool.provisioned(key)
        target = 0 if allocation is None else allocation.target
        for env in choose_surplus(envs, len(envs) - target):
            self._pool.retire_provisioned(env)
        if allocation is None or allocation.failure is not None:
            return
        for _ in range(target - len(envs)):
            env = self._pool.add_provisioned(allocation.version)
            self._leases[env] = self._ledger.hold(env.version.name, f"provisioned:{env.id}")
            task = asyncio.get_running_loop().create_task(self._start(env))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start(self, env: Environment) -> None:
        try:
            ready = await self._pool.start_provisioned(env, init_limit_s(env.version.timeout_s))
        except asyncio.CancelledError:
            self._release(env)
            raise
        except Exception as error:  # the engine could not build it (a sandbox, a cgroup): retried
            self._release(env)
            log.warning("%r: could not start a provisioned environment", env, exc_info=True)
            self._start_failed(env, f"{ENGINE_FAILURE}: {type(error).__name__}: {error}")
            return
        allocation = self._allocations.get(env.version.key)
        if ready:
            if allocation is not None:
                allocation.failed_inits = 0
            return
        self._release(env)
        if env.init_failure is not None:
            self._start_failed(env, f"{INIT_FAILURE}: {env.init_failure.error_type or 'Runtime.Unknown'}")

    def _start_failed(self, env: Environment, reason: str) -> None:
        """``env``'s INIT failed, or the engine could not start it: try again while fewer than
        ``MAX_INIT_FAILURES`` in a row have failed, else mark its allocation FAILED (``reason``
        becomes the config's StatusReason)."""
        allocation = self._allocations.get(env.version.key)
        if allocation is None or allocation.version != env.version:
            return
        allocation.failed_inits += 1
        if allocation.failed_inits < MAX_INIT_FAILURES:
            log.info("%r: provisioned start failed (%s); trying again", env, reason)
            self._converge(env.version.key)
            return
        allocation.failure = reason
        log.warning(
            "%r: provisioned start failed %d times in a row (%s)", env, allocation.failed_inits, reason
        )

    def _gone(self, env: Environment) -> None:
        """The pool's ``on_provisioned_gone``: release the lease, replace it if still wanted
        (a surplus being retired leaves no fewer than the target, so this never recurses)."""
        self._release(env)
        key = env.version.key
        allocation = self._allocations.get(key)
        if allocation is not None and len(self._pool.provisioned(key)) < allocation.target:
            self._converge(key)

    def _release(self, env: Environment) -> None:
        lease = self._leases.pop(env, None)
        if lease is not None:
            lease.release()
