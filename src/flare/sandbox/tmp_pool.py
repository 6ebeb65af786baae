"""Private, size-capped ``/tmp`` directories for execution environments, made ahead of need.

Each environment gets its own writable ``/tmp`` that holds exactly its ``EphemeralStorage`` MB
of file data, whatever its memory size. A tmpfs would be charged to the function's memory
cgroup, so a scratch is a sparse ext4 image loop-mounted under ``root/mnt/<id>`` (the image
file, under ``root/images/<id>.img``, only takes the host disk space actually written to it).
Making one costs a few milliseconds of ``mkfs.ext4`` and ``mount``, so a ``ScratchPool`` keeps
``spares`` ready for every size it has been asked for, and refills in the background.

Exactly N MiB (see ``flare.sandbox.tmp_image``): the owner can write N MiB and then gets ENOSPC.

Without root, ``mkfs.ext4`` or loop devices (or with ``force_uncapped``), the pool hands out
plain directories under ``root/dirs/<id>`` with no size cap; ``capped`` is False and ``reason``
says why. If the first image ever made fails, the pool switches to that mode and says so.

Every blocking step (mkfs, mount, unmount, deletion) runs on the pool's own worker threads;
every public method is called from the event loop's thread.

``root`` should sit on a disk-backed file system and be used by one pool at a time: ``sweep()``
deletes whatever it finds there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flare.sandbox.capabilities import SBIN_PATH, find_mkfs, loop_scratch
from flare.sandbox.tmp_image import (
    BLOCK,
    LOST_FOUND_BLOCKS,
    MKFS_OPTIONS,
    MOUNT_OPTIONS,
    ScratchError,
    Superblock,
    detach_loop,
    image_blocks,
    kernel_reserve,
    loops_backed_by,
    mounts_under,
    read_superblock,
    reserve_percent,
    run_tool,
    unmount,
    usable_blocks,
)

log = logging.getLogger("flare.scratch")

T = TypeVar("T")


@dataclass(frozen=True)
class Scratch:
    """One environment's ``/tmp``: mounted at ``path``. ``image`` is None for an uncapped
    directory. ``mkfs_ms``/``mount_ms`` say what making it cost (0 for a directory)."""

    id: str
    path: Path
    size_mb: int
    image: Path | None
    mkfs_ms: float = 0.0
    mount_ms: float = 0.0

    def cost(self) -> tuple[float, float]:
        return self.mkfs_ms, self.mount_ms


# A released scratch is emptied and kept while fewer than spares * this are ready.
RECYCLE_FACTOR = 4


class ScratchPool:
    """Scratch directories by size, a few of each size made ahead of need.

    Contract: ``acquire`` returns an empty, writable scratch owned by ``owner_uid:owner_gid``
    (mode ``mode``) that nobody else holds; give it back with ``release`` exactly once.
    ``close`` destroys everything, held or spare. Call ``sweep`` once before the first acquire.
    """

    def __init__(
        self,
        root: Path,
        owner_uid: int,
        owner_gid: int,
        *,
        spares: int = 2,
        mode: int = 0o1777,
        force_uncapped: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        self.owner_uid = owner_uid
        self.owner_gid = owner_gid
        self.spares = spares
        self.mode = mode
        self.images = self.root / "images"
        self.mounts = self.root / "mnt"
        self.dirs = self.root / "dirs"
        for directory in (self.root, self.images, self.mounts, self.dirs):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)
        self._mkfs = find_mkfs()
        self._mount = shutil.which("mount", path=f"/usr/bin:/bin:{SBIN_PATH}")
        support = loop_scratch(os.geteuid() == 0, self._mkfs)
        if force_uncapped:
            self._capped, self.reason = False, "uncapped directories forced (force_uncapped=True)"
        elif support.ok and self._mount is None:
            self._capped, self.reason = False, "no mount(8) binary"
        else:
            self._capped, self.reason = support.ok, support.reason
        self._proven = False
        self._layouts: dict[int, Superblock] = {}  # size_mb => superblock of the last image of that size
        self._ready: dict[int, deque[Scratch]] = {}  # size_mb => spares, oldest first
        self._filling: dict[int, int] = {}  # size_mb => spares being made
        self._held: dict[str, Scratch] = {}  # scratch id => scratch handed out
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="flare-scratch")
        self._closed = False
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        ready = sum(len(spares) for spares in self._ready.values())
        kind = "capped" if self._capped else "uncapped"
        return f"<ScratchPool {kind} {len(self._held)} held, {ready} ready>"

    @property
    def capped(self) -> bool:
        """True when scratches are size-capped ext4 mounts; ``reason`` says why or why not."""
        return self._capped

    def ready(self, size_mb: int) -> int:
        """Spares of ``size_mb`` ready now."""
        return len(self._ready.get(size_mb, ()))

    async def acquire(self, size_mb: int) -> Scratch:
        """A ready scratch of ``size_mb`` MiB: a spare if there is one, else made now. Starts
        refilling that size's spares. Raises ScratchError if it cannot be made."""
        if size_mb < 1:
            raise ValueError(f"scratch size must be at least 1 MiB, not {size_mb}")
        self._check_open()
        spares = self._ready.setdefault(size_mb, deque())
        if spares:
            scratch = spares.popleft()
            self.hits += 1
        else:
            scratch = await self._in_thread(self._make, size_mb)
            self.misses += 1
            if self._closed:
                await self._in_thread(self._destroy, scratch)
                self._check_open()
        self._held[scratch.id] = scratch
        self._refill(size_mb)
        log.debug("scratch %s: %d MiB, mkfs %.1f ms, mount %.1f ms", scratch.id, size_mb, *scratch.cost())
        return scratch

    def prefill(self, size_mb: int) -> None:
        """Start making ``spares`` scratches of ``size_mb`` in the background."""
        self._check_open()
        self._refill(size_mb)

    def release(self, scratch: Scratch) -> None:
        """Give ``scratch`` back. In the background it is emptied and kept as a spare (an
        emptied file system costs far less than mkfs + mount + umount + loop detach, and keeps
        the kernel's mount lock free for cold starts), or destroyed when there are spares
        enough. Raises ValueError if this pool does not hold it out (a double release)."""
        if self._held.pop(scratch.id, None) is None:
            raise ValueError(f"scratch {scratch.id} is not held from this pool")
        self._spawn(self._recycle(scratch))

    async def _recycle(self, scratch: Scratch) -> None:
        spares = self._ready.setdefault(scratch.size_mb, deque())
        if self._closed or scratch.image is None or len(spares) >= self.spares * RECYCLE_FACTOR:
            await self._in_thread(self._destroy, scratch)
            return
        try:
            await self._in_thread(self._empty, scratch)
        except OSError:
            await self._in_thread(self._destroy, scratch)
            return
        if self._closed:
            await self._in_thread(self._destroy, scratch)
            return
        spares.append(scratch)

    def _empty(self, scratch: Scratch) -> None:
        """Delete everything in ``scratch`` (as root: whatever modes the function set)."""
        with os.scandir(scratch.path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
        self._own(scratch.path)

    async def sweep(self) -> list[str]:
        """Remove what a previous run left under ``root``: stale mounts, their loop devices,
        images and directories. Returns what it removed. Raises if this pool has scratches."""
        if self._held or any(self._ready.values()) or self._tasks:
            raise ValueError("sweep() is for start-up, before any scratch exists")
        return await self._in_thread(self._sweep)

    async def settle(self) -> None:
        """Wait until background work (refills, releases) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Destroy every scratch, spares and held ones alike, and stop the worker threads."""
        self._closed = True
        await self.settle()
        victims = [*self._held.values(), *(s for spares in self._ready.values() for s in spares)]
        self._held.clear()
        self._ready.clear()
        for scratch in victims:
            await self._in_thread(self._destroy, scratch)
        self._executor.shutdown(wait=False)

    # --- background work -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ScratchError("the scratch pool is closed")

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("scratch background work failed: %s", task.exception())

    def _refill(self, size_mb: int) -> None:
        missing = self.spares - len(self._ready.get(size_mb, ())) - self._filling.get(size_mb, 0)
        for _ in range(max(0, missing)):
            self._filling[size_mb] = self._filling.get(size_mb, 0) + 1
            self._spawn(self._make_spare(size_mb))

    async def _make_spare(self, size_mb: int) -> None:
        try:
            scratch = await self._in_thread(self._make, size_mb)
        finally:
            self._filling[size_mb] -= 1
        if self._closed:
            await self._in_thread(self._destroy, scratch)
        else:
            self._ready.setdefault(size_mb, deque()).append(scratch)

    # --- blocking steps, on worker threads -------------------------------------------------

    def _make(self, size_mb: int) -> Scratch:
        scratch_id = uuid.uuid4().hex[:16]
        if not self._capped:
            return self._make_directory(scratch_id, size_mb)
        try:
            scratch = self._make_image(scratch_id, size_mb)
        except (ScratchError, OSError) as error:
            if self._proven:
                raise
            self._capped, self.reason = False, f"loop-mounted ext4 failed: {error}"
            log.warning("scratch /tmp is not size-capped: %s", self.reason)
            return self._make_directory(scratch_id, size_mb)
        self._proven = True
        return scratch

    def _make_directory(self, scratch_id: str, size_mb: int) -> Scratch:
        path = self.dirs / scratch_id
        path.mkdir()
        self._own(path)
        return Scratch(scratch_id, path, size_mb, None)

    def _make_image(self, scratch_id: str, size_mb: int) -> Scratch:
        image = self.images / f"{scratch_id}.img"
        path = self.mounts / scratch_id
        with image.open("xb") as file:
            file.truncate(image_blocks(size_mb) * BLOCK)
        mounted = False
        try:
            started = time.perf_counter()
            self._format(image, size_mb)
            formatted = time.perf_counter()
            path.mkdir()
            assert self._mount is not None
            run_tool(self._mount, "-o", MOUNT_OPTIONS, str(image), str(path))
            mounted = True
            mount_ms = (time.perf_counter() - formatted) * 1000
            (path / "lost+found").rmdir()
            self._own(path)
        except BaseException:
            if mounted:
                unmount(path)
            with contextlib.suppress(FileNotFoundError):
                path.rmdir()
            image.unlink(missing_ok=True)
            raise
        return Scratch(scratch_id, path, size_mb, image, (formatted - started) * 1000, mount_ms)

    def _format(self, image: Path, size_mb: int) -> None:
        """mkfs ``image`` so that exactly ``usable_blocks(size_mb)`` are left to the owner.
        The first image of a size is made twice: once to learn ext4's overhead for it."""
        assert self._mkfs is not None
        target = usable_blocks(size_mb)
        layout = self._layouts.get(size_mb)
        for _ in range(2):
            percent = "0" if layout is None else reserve_percent(layout.blocks, self._surplus(layout, target))
            run_tool(self._mkfs, *MKFS_OPTIONS, "-m", percent, str(image))
            made = read_superblock(image)
            if made.reserved == self._surplus(made, target):
                return
            layout = self._layouts[size_mb] = made
        raise ScratchError(f"mkfs did not reserve the expected blocks for a {size_mb} MiB scratch")

    @staticmethod
    def _surplus(layout: Superblock, target: int) -> int:
        # Superblock free counts include the reserved blocks; lost+found's come back on rmdir.
        surplus = layout.free + LOST_FOUND_BLOCKS - kernel_reserve(layout.blocks) - target
        if surplus < 0:
            raise ScratchError(f"image too small: {layout} for {target} usable blocks")
        return surplus

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.owner_uid, self.owner_gid)
        path.chmod(self.mode)

    def _destroy(self, scratch: Scratch) -> None:
        if scratch.image is None:
            shutil.rmtree(scratch.path, ignore_errors=True)
            return
        unmount(scratch.path)
        with contextlib.suppress(FileNotFoundError):
            scratch.path.rmdir()
        for device, backing in loops_backed_by(self.images):
            if backing == str(scratch.image):
                detach_loop(device)
        scratch.image.unlink(missing_ok=True)

    def _sweep(self) -> list[str]:
        removed = []
        for point in mounts_under(self.mounts):
            if unmount(point):
                removed.append(f"mount {point}")
        for device, backing in loops_backed_by(self.images):
            detach_loop(device)
            removed.append(f"loop {device} ({backing})")
        for entry in [*self.mounts.iterdir(), *self.images.iterdir(), *self.dirs.iterdir()]:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(str(entry))
        return removed
