"""Environment cgroups made ahead of need (``sandbox/cgroup_pool.py``), on the host's real
hierarchy (v1 or v2) under this test process's own engine parent. Needs root and cgroups."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from flare.clock import ManualClock
from flare.sandbox.cgroup_pool import LIMITS_KEPT, REFILL_DELAY_S, SPARES, CgroupPool
from flare.sandbox.cgroups import MIB, Cgroups, EnvCgroup, Limits, cfs_quota_us
from flare.sandbox.isolation import Isolation
from tests.unit.test_launcher import version

HOST = Cgroups.detect()
pytestmark = pytest.mark.skipif(HOST is None, reason="needs root and cgroups")

SMALL = Limits(128, 2.0)
LARGE = Limits(1024, 0.58)


@pytest.fixture
def pool() -> Iterator[tuple[ManualClock, CgroupPool]]:
    assert HOST is not None
    cgroups = Cgroups(HOST.version, HOST.root, owner=f"e{os.getpid()}-test-pool")
    clock = ManualClock()
    made = CgroupPool(cgroups, clock)
    yield clock, made
    made.close()
    cgroups.close()


def applied(group: EnvCgroup) -> tuple[int, int]:
    """The memory limit (MiB) and CPU quota (µs per period) written in ``group``."""
    if group.version == 2:
        memory = int((group.dirs["unified"] / "memory.max").read_text()) // MIB
        return memory, int((group.dirs["unified"] / "cpu.max").read_text().split()[0])
    memory = int((group.dirs["memory"] / "memory.limit_in_bytes").read_text()) // MIB
    return memory, int((group.dirs["cpu"] / "cpu.cfs_quota_us").read_text())


def exists(group: EnvCgroup) -> bool:
    return all(path.is_dir() for path in group.dirs.values())


def test_a_take_is_made_on_the_spot_then_spares_are_made_after_the_delay(
    pool: tuple[ManualClock, CgroupPool],
) -> None:
    clock, cgroups = pool
    first = cgroups.take(SMALL)
    assert applied(first) == (128, cfs_quota_us(2.0))
    assert (cgroups.hits, cgroups.misses, cgroups.ready(SMALL)) == (0, 1, 0)
    clock.advance(REFILL_DELAY_S)
    assert cgroups.ready(SMALL) == SPARES
    second = cgroups.take(SMALL)
    assert (cgroups.hits, cgroups.misses) == (1, 1)
    assert applied(second) == (128, cfs_quota_us(2.0))
    assert exists(second) and second.dirs != first.dirs
    clock.advance(REFILL_DELAY_S)
    assert cgroups.ready(SMALL) == SPARES
    for group in (first, second):
        assert group.remove()


def test_spares_are_kept_per_set_of_limits(pool: tuple[ManualClock, CgroupPool]) -> None:
    clock, cgroups = pool
    cgroups.prefill(SMALL)
    cgroups.prefill(LARGE)
    clock.advance(REFILL_DELAY_S)
    large = cgroups.take(LARGE)
    assert applied(large) == (1024, cfs_quota_us(0.58))
    assert (cgroups.hits, cgroups.ready(SMALL), cgroups.ready(LARGE)) == (1, SPARES, SPARES - 1)
    assert large.remove()


def test_a_spare_removed_meanwhile_is_not_handed_out(pool: tuple[ManualClock, CgroupPool]) -> None:
    clock, cgroups = pool
    cgroups.prefill(SMALL)
    clock.advance(REFILL_DELAY_S)
    spares = list(cgroups._ready[SMALL])
    for spare in spares:  # an old Flare's sweep removes every empty cgroup it finds
        for path in spare.dirs.values():
            path.rmdir()
    group = cgroups.take(SMALL)
    assert group.dirs not in [spare.dirs for spare in spares]
    assert exists(group) and applied(group) == (128, cfs_quota_us(2.0))
    assert (cgroups.hits, cgroups.misses, cgroups.ready(SMALL)) == (0, 1, 0)
    assert group.remove()


def test_close_removes_every_spare(pool: tuple[ManualClock, CgroupPool]) -> None:
    clock, cgroups = pool
    cgroups.prefill(SMALL)
    clock.advance(REFILL_DELAY_S)
    spares = list(cgroups._ready[SMALL])
    assert len(spares) == SPARES and all(exists(group) for group in spares)
    cgroups.close()
    assert not any(path.exists() for group in spares for path in group.dirs.values())
    assert cgroups.take(SMALL).remove(), "made on the spot after close"
    clock.advance(REFILL_DELAY_S)
    assert cgroups.ready(SMALL) == 0


def test_the_least_recently_taken_limits_give_their_spares_back(pool: tuple[ManualClock, CgroupPool]) -> None:
    clock, cgroups = pool
    sizes = [Limits(128 + 64 * i, 1.0) for i in range(LIMITS_KEPT + 1)]
    cgroups.prefill(sizes[0])
    clock.advance(REFILL_DELAY_S)
    oldest = list(cgroups._ready[sizes[0]])
    for limits in sizes[1:]:
        cgroups.prefill(limits)
    clock.advance(REFILL_DELAY_S)
    assert cgroups.ready(sizes[0]) == 0
    assert not any(Path(path).exists() for group in oldest for path in group.dirs.values())
    assert all(cgroups.ready(limits) == SPARES for limits in sizes[1:])


def isolation_with(cgroups: CgroupPool) -> Isolation:
    return Isolation(True, cgroups.cgroups, Path("/mnt"), Path("/sdk"), 2, cgroup_pool=cgroups)


def test_a_cgroup_without_a_spare_is_made_off_the_event_loop(
    pool: tuple[ManualClock, CgroupPool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a burst the spares run out at once; what is made on the spot is made on a worker
    thread, so the loop goes on reading the other requests meanwhile."""
    _clock, cgroups = pool
    made_on: list[int] = []
    create = cgroups.cgroups.create

    def recorded(name: str, limits: Limits) -> EnvCgroup:
        made_on.append(threading.get_ident())
        return create(name, limits)

    monkeypatch.setattr(cgroups.cgroups, "create", recorded)

    async def take() -> tuple[EnvCgroup | None, int]:
        taken = await isolation_with(cgroups).take_cgroup_soon("env", version(), init_burst=True)
        return taken, threading.get_ident()

    group, loop_thread = asyncio.run(take())
    assert group is not None and exists(group) and applied(group) == (version().memory_mb, cfs_quota_us(2.0))
    assert made_on and loop_thread not in made_on
    assert (cgroups.hits, cgroups.misses) == (0, 1)
    assert group.remove()


def test_a_cgroup_made_for_a_start_cancelled_meanwhile_is_removed(
    pool: tuple[ManualClock, CgroupPool], monkeypatch: pytest.MonkeyPatch
) -> None:
    _clock, cgroups = pool
    made: list[EnvCgroup] = []
    release = threading.Event()
    create = cgroups.cgroups.create

    def slow(name: str, limits: Limits) -> EnvCgroup:
        release.wait(5)
        made.append(create(name, limits))
        return made[-1]

    monkeypatch.setattr(cgroups.cgroups, "create", slow)

    async def cancelled() -> None:
        taking = asyncio.ensure_future(isolation_with(cgroups).take_cgroup_soon("env", version()))
        await asyncio.sleep(0.01)
        taking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await taking
        release.set()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if made and not exists(made[0]):
                return

    asyncio.run(cancelled())
    assert made and not any(path.exists() for path in made[0].dirs.values())
