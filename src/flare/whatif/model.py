"""A model of the engine's placement: a trace's arrivals, run on a simulated clock, no processes.

It takes its decisions from the engine itself wherever the engine has them as pure code:

* who may run, and every throttle with its Reason: ``placement.ledger.Ledger`` (account limit,
  reserved concurrency, the unreserved pool, the per-function scaling bucket), on a
  ``ManualClock`` the model moves to each arrival;
* which idle environment serves: ``placement.pool.choose_idle`` (the warmest);
* when an idle environment shuts down: ``placement.pool.idle_expired`` (the pool's reaper);
* provisioned environments hold a lease each from the start (``Ledger.hold``, as
  ``placement.prewarm.Provisioner`` does) and serve first; an invocation spills over to on-demand
  environments when all are busy (``placement.router``'s order).

An arrival that finds no idle environment is a cold start: INIT, or a restore when the version
has SnapStart. Each takes the service times of ``whatif.service``; an environment is busy until
its latency has passed, then idle (parked) again, unless its invocation ended it (a timeout or a
crash, recorded as ``ended``). Every invocation is modelled as synchronous: an async or mapping
invocation that was throttled and retried appears in the trace, and here, as separate arrivals.
What the model leaves out is in docs/trace.md.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

from flare.clock import ManualClock
from flare.errors import TooManyRequests
from flare.observe.trace_format import Record
from flare.placement.ledger import Lease, Ledger
from flare.placement.pool import choose_idle, idle_expired
from flare.sandbox.lifecycle import EnvState
from flare.whatif.scenario import EngineConfig, FunctionConfig
from flare.whatif.service import GroupKey, ServiceTimes, group_of


class ModelEnvironment:
    """An execution environment as the model knows it: whose it is, and its state."""

    __slots__ = ("group", "provisioned", "state")

    def __init__(self, group: GroupKey, provisioned: bool) -> None:
        self.group = group
        self.provisioned = provisioned
        self.state = EnvState.IDLE


class Replayed(NamedTuple):
    """What the model says became of one recorded arrival: its ``start`` (None: throttled with
    ``reason``), its latency and REPORT duration, and the INIT or restore it waited for."""

    record: Record
    start: str | None
    latency_ms: float | None = None
    duration_ms: float | None = None
    start_ms: float = 0.0
    reason: str | None = None


# completion time, order of arrival, whether the invocation ended its environment, the
# environment, its lease (None: a provisioned environment's)
_Busy = tuple[float, int, bool, ModelEnvironment, Lease | None]


class Model:
    """One replay of ``records`` under ``engine`` and ``configs`` (one per version group)."""

    def __init__(
        self,
        engine: EngineConfig,
        configs: dict[GroupKey, FunctionConfig],
        service: ServiceTimes,
        restore_ms: float | None = None,
    ) -> None:
        self._engine = engine
        self._configs = configs
        self._service = service
        self._restore_ms = restore_ms
        self._clock = ManualClock(start=0.0)
        self._ledgers: dict[tuple[str, str], Ledger] = {}
        # version group => idle on-demand environments, warmest last
        self._idle: dict[GroupKey, list[ModelEnvironment]] = {}
        # version group => idle provisioned environments, warmest last
        self._provisioned_idle: dict[GroupKey, list[ModelEnvironment]] = {}
        # idle on-demand environment => when it was parked, in parking order
        self._parked_at: dict[ModelEnvironment, float] = {}
        self._busy: list[_Busy] = []
        for group, config in configs.items():
            self._set_up(group, config)

    def _set_up(self, group: GroupKey, config: FunctionConfig) -> None:
        """The ledger of ``group``'s account and region, its reservation, its provisioned
        environments (each holding a lease, ready at the start)."""
        ledger = self._ledger((group[0], group[1]))
        function = group[2]
        if config.reserved is not None and ledger.reserved(function) is None:
            ledger.set_reserved(function, config.reserved)
        ready = self._provisioned_idle.setdefault(group, [])
        for number in range(config.provisioned):
            ledger.hold(function, f"provisioned:{group[3]}:{number}")
            ready.append(ModelEnvironment(group, provisioned=True))

    def _ledger(self, scope: tuple[str, str]) -> Ledger:
        ledger = self._ledgers.get(scope)
        if ledger is None:
            engine = self._engine
            ledger = self._ledgers[scope] = Ledger(
                self._clock, engine.account_concurrency, engine.scaling_rate, engine.scaling_window_s
            )
        return ledger

    def run(self, records: list[Record]) -> list[Replayed]:
        """Replay ``records`` (in arrival order, ``t`` in seconds); one ``Replayed`` each."""
        replayed: list[Replayed] = []
        self._service.reseed()
        for number, record in enumerate(records):
            now = record.t
            self._finish_until(now)
            self._clock.advance(max(0.0, now - self._clock.now()))
            self._reap(now)
            replayed.append(self._arrive(record, number, now))
        return replayed

    def _finish_until(self, now: float) -> None:
        """Every invocation answered by ``now`` frees its environment, in the order they end."""
        busy = self._busy
        while busy and busy[0][0] <= now:
            done, _, ended, env, lease = heapq.heappop(busy)
            if lease is not None:
                lease.release()
            if ended:  # gone; a provisioned one is replaced (its INIT is not modelled)
                env = ModelEnvironment(env.group, env.provisioned)
                if not env.provisioned:
                    continue
            env.state = EnvState.IDLE
            if env.provisioned:
                self._provisioned_idle[env.group].append(env)
            else:
                self._idle.setdefault(env.group, []).append(env)
                self._parked_at[env] = done

    def _reap(self, now: float) -> None:
        expired, _ = idle_expired(self._parked_at, self._engine.idle_timeout_s, now)
        for env in expired:
            del self._parked_at[env]
            self._idle[env.group].remove(env)

    def _arrive(self, record: Record, number: int, now: float) -> Replayed:
        group = group_of(record)
        config = self._configs[group]
        lease: Lease | None = None
        env = choose_idle(self._provisioned_idle.get(group, []))
        if env is not None:
            start = "provisioned"
        else:
            idle = self._idle.setdefault(group, [])
            ledger = self._ledger((group[0], group[1]))
            try:
                lease = ledger.acquire(record.function, f"r{number}", cold_start=not idle)
            except TooManyRequests as throttle:
                return Replayed(record, None, None, None, 0.0, throttle.reason)
            env = choose_idle(idle)
            if env is not None:
                del self._parked_at[env]
                start = "warm"
            else:
                env = ModelEnvironment(group, provisioned=False)
                start = "restore" if config.snapstart else "cold"
        env.state = EnvState.BUSY
        service = self._service
        duration = service.duration_ms(record, group, config.memory_mb)
        start_ms = service.start_ms(record, group, start, self._restore_ms)
        latency = start_ms + duration + service.overhead_ms(record, group, start)
        heapq.heappush(self._busy, (now + latency / 1000, number, record.ended, env, lease))
        return Replayed(record, start, latency, duration, start_ms)
