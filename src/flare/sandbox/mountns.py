"""The engine's own mount namespace, so that a crash can never leak a mount.

``flare serve`` (as root) enters a private mount namespace before it starts anything: every
/tmp image it mounts lives there, and when the engine and its environments are gone — however
they ended, ``kill -9`` included — the kernel drops the namespace and its mounts (and the loop
devices, mounted with autoclear). Host mounts still propagate in (``MS_SLAVE``); ours never
propagate out.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
MS_REC = 16384
MS_SLAVE = 1 << 19
_entered = False


def enter_private_mount_namespace() -> str | None:
    """Move this (single-threaded) process into a new mount namespace. Returns None on
    success, else why not (not root, or the kernel refused)."""
    if os.geteuid() != 0:
        return "not root"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return f"unshare: {os.strerror(ctypes.get_errno())}"
    if libc.mount(None, b"/", None, MS_REC | MS_SLAVE, None) != 0:
        return f"mount --make-rslave /: {os.strerror(ctypes.get_errno())}"
    global _entered
    _entered = True
    return None


def mounts_are_private() -> bool:
    """Whether this process entered a mount namespace of its own (so its mounts end with it)."""
    return _entered
