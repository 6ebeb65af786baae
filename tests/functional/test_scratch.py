"""ScratchPool against the real kernel: loop-mounted ext4 images of exactly N MiB.

Capped tests need root, mkfs.ext4 and loop devices; elsewhere they skip with the reason."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from flare.sandbox.capabilities import find_mkfs, loop_scratch
from flare.sandbox.tmp_image import MIB, image_blocks, loops_backed_by, mounts_under, read_superblock
from flare.sandbox.tmp_pool import Scratch, ScratchPool

T = TypeVar("T")
UID, GID = 993, 990
SUPPORT = loop_scratch(os.geteuid() == 0, find_mkfs())
needs_loop_ext4 = pytest.mark.skipif(
    not SUPPORT.ok, reason=f"size-capped scratch needs root, mkfs.ext4 and loop devices: {SUPPORT.reason}"
)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(cast(Coroutine[Any, Any, T], scenario()))


def attached_loops(under: Path | None = None) -> set[str]:
    """Attached loop devices (only those backed by a file under ``under``, when given: other
    servers on the machine may attach their own meanwhile)."""
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[0] for line in out.splitlines() if under is None or str(under) in line}


def write_as_owner(scratch: Scratch, name: str, mib: int) -> subprocess.CompletedProcess[str]:
    """``dd`` ``mib`` MiB into the scratch as the unprivileged owner (who cannot use ext4's
    root reserve). It starts inside the mount, since the pool's root is private to root."""
    return subprocess.run(
        ["dd", "if=/dev/zero", f"of={name}", "bs=1M", f"count={mib}"],
        cwd=scratch.path,
        user=UID,
        group=GID,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=False,
    )


def mount_entry(path: Path) -> list[str]:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if fields[1] == str(path):
            return fields
    return []


@needs_loop_ext4
def test_acquire_returns_an_empty_ext4_mount_of_the_size_owned_by_the_uid(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID)
        try:
            scratch = await pool.acquire(64)
            stat = os.statvfs(scratch.path)
            available = stat.f_bavail * stat.f_frsize
            assert 64 * MIB <= available < 65 * MIB
            assert os.listdir(scratch.path) == []
            info = os.stat(scratch.path)
            assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (UID, GID, 0o1777)
            _, point, fstype, options, *_ = mount_entry(scratch.path)
            assert (point, fstype) == (str(scratch.path), "ext4")
            assert {"nosuid", "nodev"} <= set(options.split(","))
            assert scratch.image is not None and scratch.image.stat().st_size == image_blocks(64) * 4096
            assert pool.capped, pool.reason
        finally:
            await pool.close()

    run(scenario)


@needs_loop_ext4
@pytest.mark.parametrize("size_mb", [8, 512])
def test_owner_can_write_exactly_the_size_then_gets_enospc(tmp_path: Path, size_mb: int) -> None:
    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, spares=0)
        try:
            scratch = await pool.acquire(size_mb)
            assert scratch.image is not None
            full = write_as_owner(scratch, "fill", size_mb)
            assert full.returncode == 0, full.stderr
            over = write_as_owner(scratch, "over", 1)
            assert over.returncode != 0
            assert "No space left on device" in over.stderr
            os.sync()
            on_host = scratch.image.stat().st_blocks * 512
            assert on_host <= scratch.image.stat().st_size
            assert on_host <= (size_mb + 2) * MIB
        finally:
            await pool.close()

    run(scenario)


@needs_loop_ext4
def test_release_unmounts_deletes_and_detaches_the_loop_device(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, spares=0)
        try:
            scratch = await pool.acquire(16)
            assert mount_entry(scratch.path)
            assert len(attached_loops(tmp_path)) == 1
            pool.release(scratch)
            await pool.settle()
            assert scratch.image is not None and not scratch.image.exists()
            assert not scratch.path.exists()
            assert mounts_under(tmp_path) == []
            assert attached_loops(tmp_path) == set()
            with pytest.raises(ValueError, match="not held"):
                pool.release(scratch)
        finally:
            await pool.close()

    run(scenario)


@needs_loop_ext4
def test_a_spare_makes_the_next_acquire_of_that_size_instant(tmp_path: Path) -> None:
    async def scenario() -> tuple[float, float, Scratch]:
        pool = ScratchPool(tmp_path, UID, GID, spares=2)
        try:
            started = time.perf_counter()
            first = await pool.acquire(512)
            cold = time.perf_counter() - started
            await pool.settle()
            assert pool.ready(512) == 2
            assert pool.ready(1024) == 0
            started = time.perf_counter()
            second = await pool.acquire(512)
            warm = time.perf_counter() - started
            assert (pool.misses, pool.hits) == (1, 1)
            assert second.path != first.path and os.listdir(second.path) == []
            await pool.settle()
            assert pool.ready(512) == 2
            return cold, warm, second
        finally:
            await pool.close()

    cold, warm, spare = run(scenario)
    print(
        f"\nacquire(512): cold {cold * 1000:.2f} ms, from a spare {warm * 1000:.3f} ms "
        f"(spare made with a clone {spare.clone_ms:.1f} ms + mount {spare.mount_ms:.1f} ms)"
    )
    assert warm < 0.005
    assert warm < cold


@needs_loop_ext4
def test_making_a_scratch_does_not_block_the_event_loop(tmp_path: Path) -> None:
    async def scenario() -> int:
        pool = ScratchPool(tmp_path, UID, GID, spares=0)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            await pool.acquire(2048)
            return ticks
        finally:
            ticker.cancel()
            await pool.close()

    assert run(scenario) > 10


@needs_loop_ext4
def test_close_unmounts_scratches_and_the_next_start_deletes_their_files(
    tmp_path: Path,
) -> None:

    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, spares=2)
        await pool.acquire(8)
        await pool.acquire(16)
        await pool.settle()
        await pool.close()
        assert mounts_under(tmp_path) == []
        with pytest.raises(Exception, match="closed"):
            await pool.acquire(8)

    run(scenario)
    assert attached_loops(tmp_path) == set()
    assert len(list((tmp_path / "images").iterdir())) == 6, "two held and two spares of each size"

    async def next_start() -> tuple[list[str], list[list[Path]]]:
        pool = ScratchPool(tmp_path, UID, GID, spares=1)
        removed = await pool.sweep()
        await pool.acquire(8)  # a start does not wait for the deletion
        await pool.settle()
        left = [list((tmp_path / name).iterdir()) for name in ("images", "mnt")]
        await pool.close()
        return removed, left

    removed, left = run(next_start)
    assert sum("/images/" in entry for entry in removed) == 6
    assert [len(entries) for entries in left] == [2, 2], "only the new run's scratch and its spare"


@needs_loop_ext4
def test_sweep_removes_what_a_crashed_run_left(tmp_path: Path) -> None:

    async def crashed_run() -> None:
        pool = ScratchPool(tmp_path, UID, GID, spares=1)
        await pool.acquire(8)
        await pool.settle()  # one held, one spare: both stay mounted when the run "crashes"

    run(crashed_run)
    stray = tmp_path / "images" / "stray.img"
    stray.write_bytes(b"")
    os.truncate(stray, 8 * MIB)
    subprocess.run(["losetup", "-f", stray], check=True)  # attached, never mounted
    (tmp_path / "dirs" / "old").mkdir()
    assert len(mounts_under(tmp_path / "mnt")) == 2
    assert len(loops_backed_by(tmp_path / "images")) == 3

    async def next_run() -> list[str]:
        pool = ScratchPool(tmp_path, UID, GID)
        try:
            return await pool.sweep()
        finally:
            await pool.close()

    removed = run(next_run)
    assert sum(entry.startswith("mount ") for entry in removed) == 2
    assert mounts_under(tmp_path) == []
    assert loops_backed_by(tmp_path / "images") == []
    assert attached_loops(tmp_path) == set()
    assert [list((tmp_path / name).iterdir()) for name in ("images", "mnt", "dirs")] == [[], [], []]


@needs_loop_ext4
def test_a_failing_mkfs_falls_back_to_uncapped_directories_and_says_why(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, spares=0)
        pool._maker.mkfs = "/bin/false"
        try:
            scratch = await pool.acquire(8)
            assert not pool.capped
            assert "loop-mounted ext4 failed" in pool.reason
            assert scratch.image is None and scratch.path.parent == tmp_path / "dirs"
            assert list((tmp_path / "images").iterdir()) == []
        finally:
            await pool.close()

    run(scenario)


def test_forced_uncapped_pool_hands_out_plain_directories(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, force_uncapped=True)
        try:
            assert not pool.capped
            assert "force_uncapped" in pool.reason
            scratch = await pool.acquire(512)
            assert scratch.image is None
            assert scratch.path.parent == tmp_path / "dirs" and scratch.path.is_dir()
            if os.geteuid() == 0:
                assert (scratch.path.stat().st_uid, scratch.path.stat().st_gid) == (UID, GID)
            (scratch.path / "file").write_text("x")
            pool.release(scratch)
            await pool.settle()
            assert not scratch.path.exists()
            assert pool.ready(512) == 2
        finally:
            await pool.close()
        assert list((tmp_path / "dirs").iterdir()) == []

    run(scenario)


def test_sizes_below_one_mib_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, force_uncapped=True)
        try:
            with pytest.raises(ValueError):
                await pool.acquire(0)
        finally:
            await pool.close()

    run(scenario)


@needs_loop_ext4
def test_superblock_reserve_is_what_leaves_exactly_the_size(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, spares=0)
        try:
            for _ in range(2):  # the first of a size learns the overhead, the next uses it
                scratch = await pool.acquire(32)
                assert scratch.image is not None
                block = read_superblock(scratch.image)
                assert block.reserved > 0
                stat = os.statvfs(scratch.path)
                assert stat.f_bavail * stat.f_frsize - 32 * MIB < 256 * 1024
                pool.release(scratch)
        finally:
            await pool.close()

    run(scenario)


@needs_loop_ext4
def test_a_released_scratch_comes_back_empty_as_the_next_spare(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, spares=1)
        try:
            first = await pool.acquire(16)
            await pool.settle()
            (first.path / "secret").write_text("from the last function")
            locked = first.path / "locked"
            (locked / "deep").mkdir(parents=True)
            (locked / "deep" / "file").write_text("x")
            locked.chmod(0)
            pool.release(first)
            await pool.settle()
            second = await pool.acquire(16)
            third = await pool.acquire(16)
            assert first.id in {second.id, third.id}, "the emptied scratch was handed out again"
            again = second if second.id == first.id else third
            assert list(again.path.iterdir()) == []
            assert again.path.stat().st_uid == UID
            assert mount_entry(again.path)
        finally:
            await pool.close()

    run(scenario)


@needs_loop_ext4
def test_scratches_of_a_size_are_template_clones_made_with_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mkfs runs for the first scratch of a size only (its template); every scratch after it
    is cloned, attached and mounted by system call: no fork of the engine per environment."""
    started: list[str] = []
    real_run = subprocess.run

    def counting_run(args: Any, *rest: Any, **options: Any) -> Any:
        started.append(str(args[0]))
        return real_run(args, *rest, **options)

    monkeypatch.setattr(subprocess, "run", counting_run)

    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, spares=0)
        try:
            scratches = await asyncio.gather(*(pool.acquire(8) for _ in range(6)))
            assert len(started) == 2, started  # the template: mkfs to learn, mkfs to reserve
            assert len({scratch.path for scratch in scratches}) == 6
            for scratch in scratches:
                assert mount_entry(scratch.path)[2] == "ext4"
                assert os.listdir(scratch.path) == []
                stat = os.statvfs(scratch.path)
                assert 8 * MIB <= stat.f_bavail * stat.f_frsize < 9 * MIB
            assert len(attached_loops(tmp_path)) == 6, "the template itself stays detached"
        finally:
            await pool.close()

    run(scenario)
    assert attached_loops(tmp_path) == set()


@needs_loop_ext4
def test_a_burst_of_acquires_on_every_worker_gets_a_loop_device_each(tmp_path: Path) -> None:
    """Sixteen threads asking the kernel for a free loop device at once are each told the same
    one; every acquire still gets a device of its own (none fails for want of one)."""

    async def scenario() -> None:
        pool = ScratchPool(tmp_path, UID, GID, spares=0)
        try:
            outcomes = await asyncio.gather(*(pool.acquire(8) for _ in range(96)), return_exceptions=True)
            failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            assert failures == []
            assert len(attached_loops(tmp_path)) == 96
        finally:
            await pool.close()

    run(scenario)
    assert attached_loops(tmp_path) == set()
