"""Size-exact ext4 images and the mount and loop-device plumbing behind ``ScratchPool``.

Exactly N MiB: the image is made a little larger than N MiB and the surplus is given to ext4's
root-reserved blocks, so the unprivileged owner can write N MiB of data (plus a small allowance
for file-system metadata, under 1 MiB) and then gets ENOSPC. Root can still write into the
reserve; the host's disk never sees more than the image's apparent size.

``ImageMaker`` runs ``mkfs.ext4`` once per size, for a template (mounted once to drop
``lost+found`` and give its root to the owner); every scratch image of that size is a clone of
the template, attached and mounted by system call (``loop_device``): no process per scratch.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import functools
import logging
import os
import re
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flare.errors import ServiceException
from flare.sandbox.loop_device import (
    MS_NOATIME,
    MS_NODEV,
    MS_NOSUID,
    Extent,
    attached,
    clone_file,
    data_extents,
    mount_block,
)

log = logging.getLogger("flare.scratch")

MIB = 1024 * 1024
BLOCK = 4096
BLOCKS_PER_MIB = MIB // BLOCK
MKFS_OPTIONS = (
    "-q", "-F", "-b", str(BLOCK), "-i", "16384", "-I", "256",
    "-O", "^has_journal,^resize_inode",
    "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
)  # fmt: skip
MOUNT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOATIME
# The kernel's lazy zeroing of inode tables (a thread that walks every mounted image) is
# skipped: a never-used inode slot of a sparse image reads as zeros anyway. No cache flushes
# (``nobarrier``): a scratch is thrown away with its environment, so its writes need no
# durability, and with barriers every unmount (and a function's fsync) flushed the loop
# device, an fsync of the image on the host's disk: unmounting 1,000 scratches as an engine
# stopped spent ~25-58 s (16 threads, summed) waiting for those, ~8 s without.
MOUNT_DATA = "noinit_itable,nobarrier"
LOST_FOUND_BLOCKS = 16384 // BLOCK  # mke2fs makes lost+found 16 KiB; the pool removes it
MNT_DETACH = 2
LOOP_CLR_FD = 0x4C01
EXT4_MAGIC = 0xEF53
INCOMPAT_64BIT = 0x80


class ScratchError(ServiceException):
    """A scratch file system could not be made (mkfs or mount failed, or the pool is closed)."""


@dataclass(frozen=True)
class Superblock:
    blocks: int
    reserved: int
    free: int


def usable_blocks(size_mb: int) -> int:
    """Blocks an unprivileged writer may fill: ``size_mb`` MiB plus an allowance for the
    extent-tree and directory blocks that files of that much data need."""
    data = size_mb * BLOCKS_PER_MIB
    return data + 16 + data // 65536


def image_blocks(size_mb: int) -> int:
    """Apparent image size: usable space plus room for ext4's own metadata (~1.6%) and the
    kernel's delayed-allocation reserve (2%, at most 4096 blocks)."""
    usable = usable_blocks(size_mb)
    return usable + usable // 25 + 512


def kernel_reserve(blocks: int) -> int:
    """Blocks ext4 keeps back for delayed allocation (``ext4_calculate_resv_clusters``)."""
    return min(blocks // 50, 4096)


def read_superblock(image: Path) -> Superblock:
    """Block counts from an ext4 image's primary superblock."""
    with image.open("rb") as file:
        file.seek(1024)
        raw = file.read(1024)
    if len(raw) < 1024 or struct.unpack_from("<H", raw, 56)[0] != EXT4_MAGIC:
        raise ScratchError(f"{image} holds no ext4 file system")
    blocks, reserved, free = struct.unpack_from("<III", raw, 4)
    if struct.unpack_from("<I", raw, 0x60)[0] & INCOMPAT_64BIT:
        high = struct.unpack_from("<III", raw, 0x150)
        blocks, reserved, free = (blocks | high[0] << 32, reserved | high[1] << 32, free | high[2] << 32)
    return Superblock(blocks, reserved, free)


def reserve_percent(blocks: int, reserved: int) -> str:
    """``mkfs -m`` percentage that makes mke2fs reserve exactly ``reserved`` blocks (it
    truncates ``percent * blocks / 100``)."""
    return repr((reserved + 0.5) * 100 / blocks)


def mounts_under(directory: Path, mounts: Path = Path("/proc/self/mounts")) -> list[Path]:
    """Mount points at or below ``directory``, deepest first."""
    found = []
    prefix = str(directory).rstrip("/") + "/"
    for line in mounts.read_text().splitlines():
        fields = line.split()
        if len(fields) > 1:
            point = re.sub(r"\\([0-7]{3})", lambda code: chr(int(code.group(1), 8)), fields[1])
            if point.startswith(prefix):
                found.append(Path(point))
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def loops_backed_by(directory: Path) -> list[tuple[Path, str]]:
    """Attached loop devices whose backing file lies under ``directory``: (device, file)."""
    found = []
    prefix = str(directory).rstrip("/") + "/"
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        with contextlib.suppress(OSError):
            name = backing.read_text().strip().removesuffix(" (deleted)")
            if name.startswith(prefix):
                found.append((Path("/dev") / backing.parent.parent.name, name))
    return found


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def unmount(path: Path) -> bool:
    """Unmount ``path``; lazily when busy. False when nothing was mounted there."""
    target = os.fsencode(path)
    if _libc().umount2(target, 0) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOENT):
        return False
    if code == errno.EBUSY and _libc().umount2(target, MNT_DETACH) == 0:
        log.warning("scratch %s was busy: detached lazily", path)
        return True
    raise OSError(code, f"umount {path}: {os.strerror(code)}")


def detach_loop(device: Path) -> None:
    """Detach a loop device (the kernel defers it while the device is still in use)."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with contextlib.suppress(OSError):
                fcntl.ioctl(fd, LOOP_CLR_FD, 0)
        finally:
            os.close(fd)


def run_tool(*args: str) -> None:
    """Run a host tool (mkfs, mount); ScratchError with its stderr when it fails."""
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ScratchError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")


def format_image(mkfs: str, image: Path, size_mb: int) -> None:
    """mkfs ``image`` so that exactly ``usable_blocks(size_mb)`` are left to the owner once its
    ``lost+found`` is gone: a first mkfs learns ext4's overhead for the size, a second gives
    the surplus to the root reserve. Raises ScratchError when mkfs fails or misses."""
    target = usable_blocks(size_mb)
    percent = "0"
    for _ in range(2):
        run_tool(mkfs, *MKFS_OPTIONS, "-m", percent, str(image))
        made = read_superblock(image)
        surplus = _surplus(made, target)
        if made.reserved == surplus:
            return
        percent = reserve_percent(made.blocks, surplus)
    raise ScratchError(f"mkfs did not reserve the expected blocks for a {size_mb} MiB scratch")


def _surplus(layout: Superblock, target: int) -> int:
    # Superblock free counts include the reserved blocks; lost+found's come back on rmdir.
    surplus = layout.free + LOST_FOUND_BLOCKS - kernel_reserve(layout.blocks) - target
    if surplus < 0:
        raise ScratchError(f"image too small: {layout} for {target} usable blocks")
    return surplus


@dataclass(frozen=True)
class Template:
    """A formatted image of one size, open at ``fd``, with its data runs."""

    fd: int
    extents: list[Extent]


class ImageMaker:
    """Scratch images of exactly N MiB, mounted, cloned from one template per size.

    Contract: thread-safe; ``make`` blocks (call it from worker threads). The template of a
    size is made by the first ``make`` of that size, under ``directory``; ``close`` closes the
    templates (their files stay, for the pool's sweep). Raises ScratchError (mkfs failed) or
    OSError (no loop device, mount refused)."""

    def __init__(self, directory: Path, mkfs: str, owner_uid: int, owner_gid: int, mode: int) -> None:
        self.directory = directory
        self.mkfs = mkfs
        self._owner = (owner_uid, owner_gid, mode)
        self._templates: dict[int, Template] = {}  # size_mb => its template
        self._lock = threading.Lock()

    def make(self, image: Path, mount_point: Path, size_mb: int) -> tuple[float, float]:
        """Clone the template of ``size_mb`` to ``image`` (which must not exist) and mount it
        at ``mount_point`` (made here): an empty root owned and moded as the pool asked.
        Returns the milliseconds the clone and the attach + mount took. On failure nothing
        is left: no mount, no image, no mount point."""
        template = self._template(size_mb)
        started = time.perf_counter()
        clone_file(template.fd, template.extents, image)
        cloned = time.perf_counter()
        try:
            mount_point.mkdir()
            try:
                with attached(image) as device:
                    mount_block(device, mount_point, "ext4", MOUNT_FLAGS, MOUNT_DATA)
            except BaseException:
                mount_point.rmdir()
                raise
        except BaseException:
            image.unlink(missing_ok=True)
            raise
        return (cloned - started) * 1000, (time.perf_counter() - cloned) * 1000

    def close(self) -> None:
        with self._lock:
            for template in self._templates.values():
                os.close(template.fd)
            self._templates.clear()

    def _template(self, size_mb: int) -> Template:
        with self._lock:
            template = self._templates.get(size_mb)
            if template is None:
                template = self._templates[size_mb] = self._make_template(size_mb)
            return template

    def _make_template(self, size_mb: int) -> Template:
        image = self.directory / f"{size_mb}.img"
        mount_point = self.directory / f"{size_mb}.mnt"
        image.unlink(missing_ok=True)
        with image.open("xb") as file:
            file.truncate(image_blocks(size_mb) * BLOCK)
        format_image(self.mkfs, image, size_mb)
        mount_point.mkdir(exist_ok=True)
        with attached(image) as device:
            mount_block(device, mount_point, "ext4", MOUNT_FLAGS, MOUNT_DATA)
        try:
            (mount_point / "lost+found").rmdir()
            uid, gid, mode = self._owner
            os.chown(mount_point, uid, gid)
            os.chmod(mount_point, mode)
        finally:
            unmount(mount_point)
            mount_point.rmdir()
        fd = os.open(image, os.O_RDONLY | os.O_CLOEXEC)
        return Template(fd, data_extents(fd))
