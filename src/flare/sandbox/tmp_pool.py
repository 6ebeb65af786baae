"""Private, size-capped ``/tmp`` directories for execution environments, made ahead of need.

Each environment gets its own writable ``/tmp`` that holds exactly its ``EphemeralStorage`` MB
of file data, whatever its memory size. A tmpfs would be charged to the function's memory
cgroup, so a scratch is a sparse ext4 image loop-mounted under ``root/mnt/<id>`` (the image
file, under ``root/images/<id>.img``, only takes the host disk space actually written to it).
An image is a clone of a template made once per size (``tmp_image.ImageMaker``), attached to
a loop device and mounted by system call, on one of ``WORKERS`` threads: about half a
millisecond of CPU and a few of waiting on the kernel, many at a time. A ``ScratchPool`` keeps
``spares`` ready for every size it has been asked for, and refills in the background.

Exactly N MiB (see ``flare.sandbox.tmp_image``): the owner can write N MiB and then gets ENOSPC.

Without root, ``mkfs.ext4`` or loop devices (or with ``force_uncapped``), the pool hands out
plain directories under ``root/dirs/<id>`` with no size cap; ``capped`` is False and ``reason``
says why. If the first image ever made fails, the pool switches to that mode and says so.

Every blocking step (mkfs, clone, mount, unmount, deletion) runs on the pool's own worker threads;
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

from flare.sandbox.capabilities import find_mkfs, loop_scratch
from flare.sandbox.tmp_image import (
    ImageMaker,
    ScratchError,
    detach_loop,
    loops_backed_by,
    mounts_under,
    unmount,
)

log = logging.getLogger("flare.scratch")

T = TypeVar("T")


@dataclass(frozen=True)
class Scratch:
    """One environment's ``/tmp``: mounted at ``path``. ``image`` is None for an uncapped
    directory. ``clone_ms``/``mount_ms`` say what making it cost (0 for a directory)."""

    id: str
    path: Path
    size_mb: int
    image: Path | None
    clone_ms: float = 0.0
    mount_ms: float = 0.0

    def cost(self) -> tuple[float, float]:
        return self.clone_ms, self.mount_ms


# A released scratch is emptied and kept while fewer than spares * this are ready.
RECYCLE_FACTOR = 4
# Threads for blocking steps: each mostly waits in the kernel (loop set-up, mount, unmount wait
# on I/O and RCU grace periods), so a burst of cold starts is served many at a time.
WORKERS = 16
# An unmounted scratch's loop device detaches itself shortly after (autoclear, in the kernel's
# own time): ``close`` waits for that, looking every DETACH_POLL_S, at most DETACH_POLLS times.
DETACH_POLL_S = 0.01
DETACH_POLLS = 200


class ScratchPool:
    """Scratch directories by size, a few of each size made ahead of need.

    Contract: ``acquire`` returns an empty, writable scratch owned by ``owner_uid:owner_gid``
    (mode ``mode``) that nobody else holds; give it back with ``release`` exactly once.
    ``close`` unmounts everything, held or spare, and leaves the files to the next ``sweep``.
    Call ``sweep`` once before the first acquire.
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
        self.templates = self.root / "templates"
        for directory in (self.root, self.images, self.mounts, self.dirs, self.templates):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)
        mkfs = find_mkfs()
        support = loop_scratch(os.geteuid() == 0, mkfs)
        if force_uncapped:
            self._capped, self.reason = False, "uncapped directories forced (force_uncapped=True)"
        else:
            self._capped, self.reason = support.ok, support.reason
        self._maker = ImageMaker(self.templates, mkfs or "mkfs.ext4", owner_uid, owner_gid, mode)
        self._proven = False
        self._ready: dict[int, deque[Scratch]] = {}  # size_mb => spares, oldest first
        self._filling: dict[int, int] = {}  # size_mb => spares being made
        self._held: dict[str, Scratch] = {}  # scratch id => scratch handed out
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="flare-scratch")
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
        """Remove what a previous run left under ``root``: stale mounts and their loop devices
        (before this returns), then its images and directories (``close`` leaves those behind),
        in the background on the worker threads (``settle`` waits for it): a run that ended
        with 1,000 environments left as many images, whose deletion would hold up the start.
        Returns what it removes. Raises if this pool has scratches."""
        if self._held or any(self._ready.values()) or self._tasks:
            raise ValueError("sweep() is for start-up, before any scratch exists")
        removed, entries = await self._in_thread(self._sweep)
        chunks = [entries[worker::WORKERS] for worker in range(WORKERS)]
        for chunk in chunks:
            if chunk:
                self._spawn(self._in_thread(_delete_all, chunk))
        return removed + [str(entry) for entry in entries]

    async def settle(self) -> None:
        """Wait until background work (refills, releases) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Unmount every scratch, spares and held ones alike (their loop devices go with the
        mounts), and stop the worker threads. The images and mount points stay for the next
        start's ``sweep``: deleting 1,000 of them took as long as the unmounts when an engine
        stopped with 1,000 environments live (the host's directory locks and discards)."""
        self._closed = True
        await self.settle()
        victims = [*self._held.values(), *(s for spares in self._ready.values() for s in spares)]
        self._held.clear()
        self._ready.clear()
        devices = await asyncio.gather(*(self._in_thread(self._take_down, s) for s in victims))
        await self._in_thread(_wait_detached, [device for device in devices if device is not None])
        self._maker.close()
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
        path = self.mounts / scratch_id
        image = self.images / f"{scratch_id}.img"
        clone_ms, mount_ms = self._maker.make(image, path, size_mb)
        return Scratch(scratch_id, path, size_mb, image, clone_ms, mount_ms)

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.owner_uid, self.owner_gid)
        path.chmod(self.mode)

    def _destroy(self, scratch: Scratch) -> None:
        if scratch.image is None:
            shutil.rmtree(scratch.path, ignore_errors=True)
            return
        unmount(scratch.path)  # its loop device detaches by itself (autoclear)
        with contextlib.suppress(FileNotFoundError):
            scratch.path.rmdir()
        scratch.image.unlink(missing_ok=True)

    def _take_down(self, scratch: Scratch) -> tuple[Path, str] | None:
        """Unmount ``scratch`` and leave its files (a directory's are deleted: no mount).
        Returns its loop device's ``backing_file`` in sysfs and the image it names, to wait
        for the device to detach itself (which the kernel does after the unmount returns)."""
        if scratch.image is None:
            shutil.rmtree(scratch.path, ignore_errors=True)
            return None
        try:
            device = os.stat(scratch.path).st_dev
        except OSError:
            return None
        unmount(scratch.path)
        backing = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}/loop/backing_file")
        return backing, str(scratch.image)

    def _sweep(self) -> tuple[list[str], list[Path]]:
        """Unmount and detach what an earlier run left, and delete its templates (made again
        under the same names); returns that, and the other entries it left."""
        removed = []
        for point in mounts_under(self.root):
            if unmount(point):
                removed.append(f"mount {point}")
        for device, backing in loops_backed_by(self.root):
            detach_loop(device)
            removed.append(f"loop {device} ({backing})")
        templates = list(self.templates.iterdir())
        _delete_all(templates)
        removed += [str(entry) for entry in templates]
        return removed, [
            entry for folder in (self.mounts, self.images, self.dirs) for entry in folder.iterdir()
        ]


def _wait_detached(devices: list[tuple[Path, str]]) -> None:
    """Wait until no loop device of ``devices`` (sysfs ``backing_file``, image) is still
    backed by its image, looking at most ``DETACH_POLLS`` times."""
    for _ in range(DETACH_POLLS):
        devices = [(backing, image) for backing, image in devices if _backed_by(backing, image)]
        if not devices:
            return
        time.sleep(DETACH_POLL_S)
    log.warning("%d loop devices still attached after their unmount", len(devices))


def _backed_by(backing: Path, image: str) -> bool:
    try:
        return backing.read_text().strip().removesuffix(" (deleted)") == image
    except OSError:
        return False


def _delete_all(entries: list[Path]) -> None:
    """Delete each file or directory tree of ``entries``."""
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
