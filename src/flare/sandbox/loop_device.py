"""Loop devices and mounts by system call: what ``mount -o loop`` does, without a process.

A scratch image is attached with ``LOOP_CONFIGURE`` (Linux 5.8+) and the autoclear flag, then
mounted with mount(2). Autoclear hands the device's life to the kernel: it detaches when its
last user goes, so the unmount of a scratch (or the end of the engine's private mount
namespace, ``kill -9`` included) frees the loop device with no step of ours. No fork, no exec:
``mkfs``/``mount`` subprocesses cost the engine a fork of its whole address space each.

``clone_file`` copies a template image to a new file: a reflink (``FICLONE``) where the host
file system shares blocks (btrfs, XFS), else only the template's data extents (an ext4 image
made with lazy init is a few hundred KiB of metadata in a sparse file of its full size).

Every function blocks (the kernel waits for I/O and RCU grace periods): call them from worker
threads, never from the event loop.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import functools
import os
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOOP_CONTROL = Path("/dev/loop-control")
LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
LO_FLAGS_AUTOCLEAR = 4
FICLONE = 0x40049409
MS_NOSUID = 2
MS_NODEV = 4
MS_NOATIME = 1024
# struct loop_config: fd, block_size, struct loop_info64 (five u64, four u32, 64 + 64 + 32
# bytes of names and key, two u64), 8 reserved u64.
_INFO64 = struct.Struct("=QQQQQIIII64s64s32sQQ")
_CONFIG = struct.Struct(f"=II{_INFO64.size}s64x")
_FLAGS_AT = 5 * 8 + 3 * 4  # offset of lo_flags in loop_info64
ATTACH_TRIES = 16  # another process may take the free device between GET_FREE and CONFIGURE
# This process's threads take a free device one at a time: the kernel names the same free one to
# every thread that asks at once, and all but one lose it (LOOP_CONFIGURE is serialised in the
# kernel anyway). 96 acquires on 16 threads lost 16 races in a row 6 times without it.
_ATTACHING = threading.Lock()


@dataclass(frozen=True)
class Extent:
    """A run of data in a sparse file: ``length`` bytes at ``offset``."""

    offset: int
    length: int


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    return libc


def data_extents(fd: int) -> list[Extent]:
    """The data runs of the file open at ``fd`` (``SEEK_DATA``/``SEEK_HOLE``); holes read as
    zeros and need no copy."""
    size = os.fstat(fd).st_size
    extents: list[Extent] = []
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as error:
            if error.errno == errno.ENXIO:  # nothing but a hole after offset
                break
            raise
        end = os.lseek(fd, start, os.SEEK_HOLE)
        extents.append(Extent(start, end - start))
        offset = end
    return extents


def clone_file(source: int, extents: list[Extent], target: Path) -> None:
    """Make ``target`` (which must not exist) a copy of the file open at ``source``, whose data
    runs are ``extents``: a reflink when the file system can, else a sparse copy of the runs.
    Raises OSError (FileExistsError if ``target`` exists); a half-made ``target`` is removed."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.ioctl(fd, FICLONE, source)
            return
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EBADF):
                raise
        os.ftruncate(fd, os.fstat(source).st_size)
        for extent in extents:
            done = 0
            while done < extent.length:
                at = extent.offset + done
                copied = os.copy_file_range(source, fd, extent.length - done, at, at)
                if copied == 0:
                    raise OSError(errno.EIO, f"copy of {target} ended early at {at}")
                done += copied
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def attached(image: Path) -> Iterator[Path]:
    """Attach ``image`` to a free loop device with autoclear, yielding the device's path while
    this process holds it open. Mount it inside the block: the mount keeps it attached after;
    unmounted, it detaches on leaving. Raises OSError when no device can be had."""
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        device, fd = _configure(backing)
    finally:
        os.close(backing)
    try:
        yield device
    finally:
        os.close(fd)


def _configure(backing: int) -> tuple[Path, int]:
    info = bytearray(_INFO64.size)
    struct.pack_into("=I", info, _FLAGS_AT, LO_FLAGS_AUTOCLEAR)
    config = _CONFIG.pack(backing, 0, bytes(info))
    control = os.open(LOOP_CONTROL, os.O_RDWR | os.O_CLOEXEC)
    try:
        with _ATTACHING:
            for _ in range(ATTACH_TRIES):
                device = Path(f"/dev/loop{fcntl.ioctl(control, LOOP_CTL_GET_FREE)}")
                fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
                try:
                    fcntl.ioctl(fd, LOOP_CONFIGURE, config)
                except OSError as error:
                    os.close(fd)
                    if error.errno != errno.EBUSY:
                        raise
                    continue
                return device, fd
    finally:
        os.close(control)
    raise OSError(errno.EBUSY, f"no free loop device after {ATTACH_TRIES} tries")


def mount_block(device: Path, target: Path, fstype: str, flags: int, data: str = "") -> None:
    """mount(2) the file system on ``device`` at ``target``. Raises OSError with the errno."""
    if _libc().mount(os.fsencode(device), os.fsencode(target), fstype.encode(), flags, data.encode()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {device} on {target}: {os.strerror(code)}")
