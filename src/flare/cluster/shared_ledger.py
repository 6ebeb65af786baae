"""One account's concurrency across every node of a cluster: ``placement.ledger``'s limits and
Reasons, with the holders in Redis.

``SharedLedger`` is a ``Ledger`` (the router, the provisioner and the control plane use it as
one) whose grants are decided in Redis by ``ledger_script.SCRIPT``, atomically, in one round
trip on the asyncio client (``acquire_async``, what the router awaits on the invoke path). The
script makes the same decision as ``placement.ledger.decide`` in the same order, and a throttle
raises the same ``TooManyRequests`` with the same Reason and Retry-After
(``tests/unit/test_shared_ledger.py`` checks the two against each other on random states).

Leases: every holder is in a sorted set with its expiry. This node refreshes the expiry of the
leases it holds every ``ttl_s / 3`` (a timer on the injected clock; the expiry itself is
Redis's wall clock, so that hosts' clocks do not matter), so a lease outlives its invocation's
run however long it is, and the leases of a node that dies expire ``ttl_s`` after its last
refresh: any grant after that prunes them. Releases are queued and sent together on the next
loop iteration, or with the next acquire if one comes first, so an invocation costs one round
trip (its acquire) when invocations keep coming.

Reservations are mirrored locally (``Ledger.set_reserved``) so ``reserved()`` and
``unreserved_limit`` answer without Redis; ``set_reserved``, ``hold`` (a provisioned
environment's lease) and ``in_use`` are control-plane calls on the synchronous client.

Contract: used from the event loop's thread, like ``Ledger``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from flare.clock import Clock, TimerHandle
from flare.cluster.cancel_guard import in_a_task
from flare.cluster.ledger_script import SCRIPT
from flare.cluster.link import ClusterLink
from flare.errors import ServiceException, TooManyRequests
from flare.placement.ledger import (
    ACCOUNT_LIMIT,
    DEFAULT_SCALING_WINDOW_S,
    RATE_LIMIT,
    RESERVED_LIMIT,
    Lease,
    LeaseReleased,
    Ledger,
)
from flare.scope import Scope

log = logging.getLogger("flare.cluster.ledger")

DEFAULT_LEASE_TTL_S = 10.0
REFRESHES_PER_TTL = 3
Arg = str | int | float
"""What a script argument may be."""
REASONS = {"A": ACCOUNT_LIMIT, "R": RESERVED_LIMIT, "S": RATE_LIMIT}
KEYS = ("all", "unreserved", "of", "reserved", "reserved-total", "buckets")


class SharedLedger(Ledger):
    """The concurrency of ``scope`` on the cluster ``link`` (see the module docstring)."""

    def __init__(
        self,
        link: ClusterLink,
        scope: Scope,
        clock: Clock,
        account_limit: int,
        scaling_rate: int,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
        scaling_window_s: float = DEFAULT_SCALING_WINDOW_S,
    ) -> None:
        super().__init__(clock, account_limit, scaling_rate, scaling_window_s)
        self._link = link
        self.keys = [link.scoped(scope, "ledger", key) for key in KEYS]
        self._fn_prefix = link.scoped(scope, "ledger", "fn") + ":"
        self.lease_ttl_s = lease_ttl_s
        self._aio_script = link.aio.register_script(SCRIPT)
        self._sync_script = link.sync.register_script(SCRIPT)
        self._held: dict[str, str] = {}  # holder => function: the leases this node holds
        self._releasing: list[str] = []
        self._flushing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refresh_timer: TimerHandle | None = None
        self.round_trips = 0  # script calls on the event loop (for make bench-cluster)

    def __repr__(self) -> str:
        return f"<SharedLedger {self.keys[0]} held here={len(self._held)}>"

    def _args(self, op: str, *rest: Arg, now_ms: int | None = None) -> list[Arg]:
        ttl_ms = int(self.lease_ttl_s * 1000)
        return [op, "" if now_ms is None else now_ms, ttl_ms, self._fn_prefix, *rest]

    def _acquire_args(self, function: str, holder: str, cold_start: bool, force: bool) -> list[Arg]:
        state = self.state
        window_ms = int(state.scaling_window_s * 1000)
        limits = (state.account_limit, state.scaling_rate, window_ms, int(cold_start), int(force))
        releasing, self._releasing = self._releasing, []
        return self._args("acquire", function, holder, *limits, *releasing)

    async def acquire_async(self, function: str, request_id: str, *, cold_start: bool = False) -> Lease:
        """``Ledger.acquire`` decided in Redis: one round trip on the asyncio client. Raises
        ``TooManyRequests`` with the Reason ``decide`` would give, ``ServiceException`` when
        Redis does not answer."""
        if request_id in self._held:
            raise ValueError(f"{request_id} already holds a lease on {function}")
        args = self._acquire_args(function, request_id, cold_start, force=False)
        self.round_trips += 1
        try:
            answer = await in_a_task(self._eval(args))  # the front door's first step has none
        except Exception as error:
            self._requeue(args)
            raise ServiceException(f"the cluster's Redis did not answer: {error}") from None
        return self._granted(answer, function, request_id)

    async def _eval(self, args: list[Arg]) -> Any:
        return await self._aio_script(keys=self.keys, args=args)

    def acquire(self, function: str, request_id: str, *, cold_start: bool = False) -> Lease:
        """``acquire_async`` on the synchronous client (for callers off the invoke path)."""
        if request_id in self._held:
            raise ValueError(f"{request_id} already holds a lease on {function}")
        args = self._acquire_args(function, request_id, cold_start, force=False)
        try:
            answer = self._sync_script(keys=self.keys, args=args)
        except Exception as error:
            self._requeue(args)
            raise ServiceException(f"the cluster's Redis did not answer: {error}") from None
        return self._granted(answer, function, request_id)

    def _requeue(self, args: list[Arg]) -> None:
        """The releases an acquire that failed carried go out with the next call."""
        self._releasing[:0] = [str(holder) for holder in args[11:]]

    def _granted(self, answer: list[Any], function: str, holder: str) -> Lease:
        if int(answer[0]) != 1:
            reason = answer[1].decode() if isinstance(answer[1], bytes) else str(answer[1])
            raise TooManyRequests(REASONS[reason], int(answer[2]))
        self._held[holder] = function
        self._keep_refreshing()
        return Lease(self, function, holder)

    def hold(self, function: str, holder: str) -> Lease:
        """A lease granted without a decision (a provisioned environment's), in Redis. The
        holder is named after this node, so two nodes' environments never share one."""
        named = f"{self._link.node_name}:{holder}"
        if named in self._held:
            raise ValueError(f"{holder} already holds a lease on {function}")
        self._sync_script(keys=self.keys, args=self._acquire_args(function, named, False, force=True))
        self._held[named] = function
        self._keep_refreshing()
        return Lease(self, function, named)

    def _release(self, lease: Lease) -> None:
        """Queue the release; it leaves with the next acquire or on the next loop iteration."""
        if self._held.pop(lease.request_id, None) is None:
            raise LeaseReleased(f"{lease!r} is not held")
        self._releasing.append(lease.request_id)
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flushing = False
        if self._releasing:
            releasing, self._releasing = self._releasing, []
            self._spawn(self._send("release", releasing))

    async def _send(self, op: str, holders: list[str]) -> None:
        """One ``release`` or ``refresh`` of ``holders``; a failure is logged (the leases then
        expire on their TTL)."""
        self.round_trips += 1
        try:
            await self._aio_script(keys=self.keys, args=self._args(op, *holders))
        except Exception as error:
            log.warning("%s of %d leases on %s failed: %s", op, len(holders), self._link.url, error)

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keep_refreshing(self) -> None:
        if self._refresh_timer is None:
            self._refresh_timer = self._clock.call_later(self.lease_ttl_s / REFRESHES_PER_TTL, self._refresh)

    def _refresh(self) -> None:
        """Push the expiry of every lease held here ``lease_ttl_s`` ahead; again in a third of it
        while any is held."""
        self._refresh_timer = None
        if self._held:
            self._spawn(self._send("refresh", list(self._held)))
            self._keep_refreshing()

    def set_reserved(self, function: str, reserved: int | None) -> None:
        """The reservation here (for ``reserved()``) and in Redis (for every node's grants);
        the function's leases move between its reservation and the unreserved pool with it.
        Redis first: when its script fails, neither changed."""
        value = "" if reserved is None else reserved
        self._sync_script(keys=self.keys, args=self._args("reserve", function, value))
        super().set_reserved(function, reserved)

    def in_use(self, function: str | None = None) -> int:
        """Leases held on ``function``, or on the whole account, by every node (read now)."""
        extra = [] if function is None else [function]
        total, of_function = self._sync_script(keys=self.keys, args=self._args("count", *extra))
        return int(total if function is None else of_function)

    def held_here(self) -> int:
        """Leases this node holds now."""
        return len(self._held)

    async def close(self) -> None:
        """Stop refreshing and send the queued releases (leases still held expire on their TTL)."""
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
            self._refresh_timer = None
        if self._releasing:
            releasing, self._releasing = self._releasing, []
            await self._send("release", releasing)
        await asyncio.gather(*self._tasks, return_exceptions=True)
