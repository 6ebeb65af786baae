"""The path of one synchronous invocation below the edge: place it, run it, release.

``async with router.invoke(version, invocation) as result:`` yields the result; the caller
answers its client inside the block, and the environment is released (frozen, parked) only on
exit, so the freeze stays off the response's critical path.

INIT failures answer the invocation that started them. An INIT that outlives the init limit is
retried once inside the invocation, with the function's timeout as its limit (Lambda's
"suppressed init"); if that one times out too, the invocation times out. An invocation whose
environment's runtime ended before taking it (``InvocationResult.undelivered``) runs in
another one.

An idle provisioned environment of the version, when there is one, serves the invocation
first: its concurrency is already held (each provisioned environment holds a lease of its own,
see ``placement.prewarm``), so no lease is taken and no scaling token spent. When all of
them are busy (or there are none) the invocation spills over to on-demand environments, below.

Otherwise, before anything is placed, the invocation takes a lease on its function's
concurrency from the ``Ledger`` (telling it whether the pool has a warm environment, so a cold
start spends a scaling token); a throttle raises ``TooManyRequests`` with no environment
reserved. The lease is released after the environment, when the caller's block exits::

    with ledger.acquire(name, request_id, cold_start=...):   # may raise TooManyRequests
        env = await pool.reserve(version)
        try: yield result
        finally: pool.release(env)

A tenant-isolated function runs each invocation on the view of its version for the
invocation's tenant (``FunctionVersion.for_tenant``), so the pool only hands it environments of
that tenant; an invocation without a tenant (or with one, for any other function) is refused
with InvalidParameterValue. A cold start for a tenant also needs room under the function's
tenant environment limit (``tenancy.check_new_environment``), else it is throttled like any
other invocation. Concurrency itself is counted as for every function.

Every invocation answered and every throttle is counted in ``metrics`` and, while someone reads
it, published on the live feed (``observe/live_feed.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType

from flare.clock import Clock, SystemClock
from flare.control import tenancy
from flare.control.function_state import State, invoke_refusal
from flare.control.model import FunctionVersion
from flare.errors import ResourceNotReady, TooManyRequests
from flare.observe import pricing
from flare.observe.live_feed import InvocationSeen, LiveFeed, ThrottleSeen
from flare.observe.metrics import Metrics
from flare.observe.trace_record import TraceRecorder
from flare.placement.ledger import Lease, Ledger
from flare.placement.pool import Pool
from flare.sandbox.environment import Environment
from flare.sandbox.forkserver import ZygoteDied
from flare.sandbox.invocation import Invocation, InvocationResult
from flare.sandbox.lifecycle import EnvState

AcquireShared = Callable[[str, str, bool], Awaitable[Lease]]
"""(function, request id, cold start) => a lease from the cluster's shared ledger; raises
TooManyRequests as ``Ledger.acquire`` does."""


class Router:
    def __init__(
        self,
        pool: Pool,
        ledger: Ledger,
        metrics: Metrics | None = None,
        clock: Clock | None = None,
        feed: LiveFeed | None = None,
    ) -> None:
        self.pool = pool
        self.ledger = ledger
        self.metrics = metrics or Metrics()
        self._clock: Clock = clock or SystemClock()
        self.trace: TraceRecorder | None = None  # flare serve --trace (observe/trace_record.py)
        self._feed = feed
        # with --cluster: the shared ledger's grant, one Redis round trip (cluster/shared_ledger.py)
        self.acquire_shared: AcquireShared | None = None

    def invoke(self, version: FunctionVersion, invocation: Invocation) -> RoutedInvocation:
        """``async with router.invoke(version, invocation) as result``: run ``invocation`` on
        ``version``, with its result. Entering raises TooManyRequests (before any environment is
        reserved) when the ledger throttles it, ResourceNotReady when no environment could be
        started, InvalidParameterValue when the invocation's tenant does not fit the function's
        tenancy. With a ``trace`` recorder, the invocation is handed to it once its environment
        is released."""
        return RoutedInvocation(self, version, invocation)

    async def _enter(self, routed: RoutedInvocation) -> InvocationResult:
        """``RoutedInvocation.__aenter__``: place and run the invocation, on a provisioned
        environment when one is idle, else on demand under a lease; ``routed`` keeps what its
        exit releases."""
        began = routed.began = self._clock.now()
        version, invocation = routed.version, routed.invocation
        if version.tenant_isolated or invocation.tenant_id is not None:
            version = routed.version = self._for_tenant(version, invocation.tenant_id)
        provisioned = self.pool.try_reserve_provisioned(version)
        if provisioned is not None:
            try:
                result = await provisioned.invoke(invocation)
            except BaseException:
                self.pool.release(provisioned)
                raise
            if not result.undelivered:
                routed.latency_ms = self._count(result, version, invocation, began, provisioned=True)
                routed.env, routed.result, routed.start = provisioned, result, "provisioned"
                return result
            self.pool.release(provisioned)  # it never began there: on demand, below
        cold_start = not self.pool.has_idle(version)
        if self.acquire_shared is None:
            lease = self._acquire(version, invocation, began, cold_start)
        else:
            lease = await self._acquire_from_cluster(version, invocation, began, cold_start)
        try:
            env, result = await self._run_on_demand(version, invocation)
        except BaseException:
            lease.release()
            raise
        routed.latency_ms = self._count(result, version, invocation, began)
        routed.env, routed.result, routed.lease = env, result, lease
        routed.start = "restore" if result.restore_ms is not None else "cold" if cold_start else "warm"
        return result

    def _exit(self, routed: RoutedInvocation, failed: bool) -> None:
        """``RoutedInvocation.__aexit__``: release the environment, then the lease (on demand);
        record the invocation, unless the caller's block ``failed`` on demand."""
        env, result = routed.env, routed.result
        assert env is not None and result is not None, "exited without entering"
        ended = env.state is not EnvState.IDLE
        self.pool.release(env)
        if routed.lease is not None:
            routed.lease.release()
            if failed:
                return
        self._record(
            routed.began, routed.version, routed.invocation, result, routed.start, routed.latency_ms, ended
        )

    def _acquire(
        self, version: FunctionVersion, invocation: Invocation, began: float, cold_start: bool
    ) -> Lease:
        """A lease for ``invocation`` on ``version``'s function; a throttle (TooManyRequests) is
        counted, recorded and raised."""
        try:
            if cold_start and version.tenant_id is not None:
                self._check_tenant_room(version.name)
            return self.ledger.acquire(version.name, invocation.request_id, cold_start=cold_start)
        except TooManyRequests as throttle:
            self._throttled(version, invocation, began, throttle)
            raise

    async def _acquire_from_cluster(
        self, version: FunctionVersion, invocation: Invocation, began: float, cold_start: bool
    ) -> Lease:
        """``_acquire`` from the cluster's shared ledger."""
        assert self.acquire_shared is not None
        try:
            if cold_start and version.tenant_id is not None:
                self._check_tenant_room(version.name)
            return await self.acquire_shared(version.name, invocation.request_id, cold_start)
        except TooManyRequests as throttle:
            self._throttled(version, invocation, began, throttle)
            raise

    def _throttled(
        self, version: FunctionVersion, invocation: Invocation, began: float, throttle: TooManyRequests
    ) -> None:
        """Count, record and publish a throttle."""
        self.metrics.throttled(version.name)
        if self.trace is not None:
            reserved, held = self._config(version)
            self.trace.throttled(began, version, invocation, throttle.reason, reserved, held)
        if self._feed is not None and self._feed.active:
            wall = self._clock.wall()
            self._feed.publish(ThrottleSeen(wall, version.account_id, version.region, version.name))

    def _record(
        self,
        began: float,
        version: FunctionVersion,
        invocation: Invocation,
        result: InvocationResult,
        start: str,
        latency_ms: float,
        ended: bool,
    ) -> None:
        """Hand an answered invocation to the trace recorder, if there is one."""
        if self.trace is None:
            return
        reserved, held = self._config(version)
        self.trace.invoked(began, version, invocation, result, start, latency_ms, reserved, held, ended)

    def _config(self, version: FunctionVersion) -> tuple[int | None, int]:
        """``version``'s function's reserved concurrency and ``version``'s provisioned
        environments, now."""
        return self.ledger.reserved(version.name), len(self.pool.provisioned(version.key))

    async def _run_on_demand(
        self, version: FunctionVersion, invocation: Invocation
    ) -> tuple[Environment, InvocationResult]:
        """Place ``invocation`` and run it; the environment is the caller's to release. One
        whose runtime ended before it took the invocation (it exited after answering the last
        one, before asking for the next, as Lambda's Node and Java clients do after some errors)
        never began it: as Lambda would not have sent it there, it runs in a new environment
        (once)."""
        for attempt in range(2):
            env = await self._place(version)
            try:
                if env.init_failure is not None:
                    result = env.fail_invocation(invocation)
                else:
                    result = await env.invoke(invocation)
            except BaseException:
                self.pool.release(env)
                raise
            if not result.undelivered or attempt:
                break
            self.pool.release(env)
        return env, result

    @staticmethod
    def _for_tenant(version: FunctionVersion, tenant_id: str | None) -> FunctionVersion:
        tenancy.check_invocation(version.tenant_isolated, tenant_id)
        assert tenant_id is not None
        return version.for_tenant(tenant_id)

    def _check_tenant_room(self, name: str) -> None:
        """Raise TooManyRequests when function ``name`` has as many tenant environments as its
        concurrency (its reservation, else the unreserved pool) allows."""
        reserved = self.ledger.reserved(name)
        concurrency = self.ledger.unreserved_limit if reserved is None else reserved
        tenancy.check_new_environment(self.pool.tenant_environments(name), concurrency)

    def _count(
        self,
        result: InvocationResult,
        version: FunctionVersion,
        invocation: Invocation,
        began: float,
        provisioned: bool = False,
    ) -> float:
        """Count ``result`` in the metrics (and on the live feed, while someone reads it);
        returns its latency (ms since ``began``)."""
        duration_ms = (self._clock.now() - began) * 1000
        self.metrics.invoked(
            version.name, result.executed_version, result.function_error is not None, duration_ms
        )
        if self._feed is not None and self._feed.active:
            self._feed.publish(
                InvocationSeen(
                    self._clock.wall(),
                    version.account_id,
                    version.region,
                    version.name,
                    result.executed_version,
                    invocation.request_id,
                    duration_ms,
                    result.start,
                    result.waited_ms,
                    result.error_type,
                    version.memory_mb,
                    _cost_usd(version, result, provisioned),
                )
            )
        return duration_ms

    async def _place(self, version: FunctionVersion) -> Environment:
        if version.state != State.ACTIVE:
            refusal = invoke_refusal(version.state, version.snap_start)
            if refusal is not None:
                raise refusal
        try:
            env = await self.pool.reserve(version)
            if env.init_timed_out:
                self.pool.release(env)
                env = await self.pool.reserve(version, init_limit_s=version.timeout_s)
        except (ZygoteDied, OSError) as error:
            raise ResourceNotReady(f"Flare could not start an execution environment: {error}") from None
        if env.restore_error is not None:
            self.pool.release(env)
            raise env.restore_error
        return env


class RoutedInvocation:
    """One ``Router.invoke``: an async context manager whose result is the invocation's (a
    class rather than ``contextlib.asynccontextmanager``: it is on every invocation's path,
    and a generator-based one costs an async generator and its frames each time)."""

    __slots__ = ("began", "env", "invocation", "latency_ms", "lease", "result", "router", "start", "version")

    def __init__(self, router: Router, version: FunctionVersion, invocation: Invocation) -> None:
        self.router = router
        self.version = version
        self.invocation = invocation
        self.began = 0.0
        self.env: Environment | None = None
        self.result: InvocationResult | None = None
        self.lease: Lease | None = None
        self.latency_ms = 0.0
        self.start = "warm"

    async def __aenter__(self) -> InvocationResult:
        return await self.router._enter(self)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.router._exit(self, kind is not None)


def _cost_usd(version: FunctionVersion, result: InvocationResult, provisioned: bool) -> float:
    """What ``result`` would cost on Lambda, from the duration and INIT it reports (the live
    feed's figure; ``/metrics`` totals REPORT's, which also bills an extension's post-invoke
    phase)."""
    if result.duration_ms is None:
        return 0.0
    charges = pricing.invocation_charges(
        version.architecture,
        version.memory_mb,
        result.duration_ms,
        result.init_ms,
        version.ephemeral_mb,
        provisioned,
    )
    return sum(charges.by_component().values())
