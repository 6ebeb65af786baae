"""Environment cgroups made ahead of need: a few ready for each set of limits in use.

Making an environment's cgroup is, on v1, four ``mkdir`` and five limit writes, one of which
(``cpu.cfs_quota_us``) walks every CPU cgroup on the host: 0.30 ms p50 on the engine's event
loop with no environment live, 0.49 ms beside 1,000 (2026-12-05, 2 vCPUs, load 87), in the path
of every cold start. ``CgroupPool.take`` hands out one made earlier instead and makes its
replacement ``REFILL_DELAY_S`` later, once the cold start that took it is under way: the same
work, off the path. A cgroup taken from the pool is named by the pool, not by the environment
(``EnvCgroup.dirs`` says where it is).

Contract: called from the event loop's thread. ``take`` returns a cgroup nobody else holds,
with exactly the limits asked for and no process in it; the caller removes it when done
(``EnvCgroup.remove``), as one it made itself. ``close`` removes the spares. Raises OSError
when a cgroup can be neither taken nor made.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict, deque

from flare.clock import Clock, TimerHandle
from flare.sandbox.cgroups import Cgroups, EnvCgroup, Limits

log = logging.getLogger("flare.cgroups")

SPARES = 2
"""Cgroups kept ready per set of limits."""
LIMITS_KEPT = 16
"""Sets of limits (memory sizes, with or without INIT's burst CPU) that have spares; the least
recently taken beyond this gives its spares back."""
REFILL_DELAY_S = 0.05
"""How long after a take its replacement is made: after the cold start that took it has
forked its environment, whose joining the cgroup would otherwise wait for the refill's hold
on the kernel's cgroup lock."""


class CgroupPool:
    """Ready cgroups by ``Limits``, ``SPARES`` of each set taken lately."""

    def __init__(self, cgroups: Cgroups, clock: Clock, spares: int = SPARES) -> None:
        self.cgroups = cgroups
        self.spares = spares
        self._clock = clock
        self._ready: OrderedDict[Limits, deque[EnvCgroup]] = OrderedDict()  # least recent first
        self._refill: TimerHandle | None = None
        self._closed = False
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        ready = sum(len(spares) for spares in self._ready.values())
        return f"<CgroupPool {ready} ready for {len(self._ready)} limits>"

    def ready(self, limits: Limits) -> int:
        """Spares of ``limits`` ready now."""
        return len(self._ready.get(limits, ()))

    def take(self, limits: Limits) -> EnvCgroup:
        """A cgroup with ``limits``: a spare if one is ready (and still there), else made now.
        Its replacement is made ``REFILL_DELAY_S`` later."""
        return self.take_ready(limits) or self.cgroups.create(pool_name(), limits)

    def take_ready(self, limits: Limits) -> EnvCgroup | None:
        """As ``take``, but None rather than one made now (the caller makes it, named by
        ``pool_name``, e.g. off the event loop: see ``Isolation.take_cgroup_soon``)."""
        spares = self._ready.setdefault(limits, deque())
        self._ready.move_to_end(limits)
        self._schedule_refill()
        while spares:
            group = spares.popleft()
            if all(path.is_dir() for path in group.dirs.values()):
                self.hits += 1
                return group
            group.remove()  # something removed part of it (an old Flare's sweep): not usable
        self.misses += 1
        return None

    def prefill(self, limits: Limits) -> None:
        """Have ``limits``' spares made soon."""
        self._ready.setdefault(limits, deque())
        self._schedule_refill()

    def close(self) -> None:
        """Remove every spare; ``take`` then makes each cgroup on the spot."""
        self._closed = True
        if self._refill is not None:
            self._refill.cancel()
            self._refill = None
        for spares in self._ready.values():
            for group in spares:
                group.remove()
        self._ready.clear()

    def _schedule_refill(self) -> None:
        if self._refill is None and not self._closed:
            self._refill = self._clock.call_later(REFILL_DELAY_S, self._fill)

    def _fill(self) -> None:
        """Make the missing spares, and drop those of limits no longer among the recent."""
        self._refill = None
        while len(self._ready) > LIMITS_KEPT:
            _, stale = self._ready.popitem(last=False)
            for group in stale:
                group.remove()
        for limits, spares in self._ready.items():
            while len(spares) < self.spares:
                try:
                    spares.append(self.cgroups.create(pool_name(), limits))
                except OSError as error:
                    log.warning("could not make a spare cgroup for %s: %s", limits, error)
                    return


def pool_name() -> str:
    """A name for a cgroup the pool hands out (an environment does not name its own)."""
    return f"p{uuid.uuid4().hex[:15]}"
