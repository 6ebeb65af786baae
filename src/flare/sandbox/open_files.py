"""The engine's open-files limit: raised for the engine, left as it was for its zygotes.

The engine holds a few descriptors per live environment: its log pipe, its frames channel and
its Runtime API listener, 3 each (plus the cgroup files of the ``cgroups.HELD_OPEN`` most
recently used environments and up to ``logs.MAX_OPEN_FILES`` log files), so 5,000 environments
need some 15,500, near the 20,000 or past the 1,024 a host commonly gives a process. At start
the engine raises its own limit to its hard limit (as root, the hard limit too, up to
``ENGINE_OPEN_FILES``). Its zygotes, and so the functions, go back to the limit it was started
with (``for_zygotes``): Lambda gives a function 1,024 descriptors, and a zygote needs few
(its children's pidfds are its watcher's, ``child_watch``)"""

from __future__ import annotations

import os
import resource

ENGINE_OPEN_FILES = 1 << 17
NR_OPEN = "/proc/sys/fs/nr_open"

_started_with: list[tuple[int, int]] = []  # the limit before the first raise, once raised


def raise_for_engine() -> tuple[int, int]:
    """Raise this process's open-files limit as far as it may (see the module); returns the
    limit now in force. Never fails: a limit that cannot be raised stays."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if not _started_with:
        _started_with.append((soft, hard))
    wanted = hard
    if os.geteuid() == 0 and hard != resource.RLIM_INFINITY:
        wanted = max(hard, min(ENGINE_OPEN_FILES, _nr_open()))
    for limit in (wanted, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def for_zygotes() -> tuple[int, int]:
    """The open-files limit a zygote starts with: this process's before ``raise_for_engine``."""
    return _started_with[0] if _started_with else resource.getrlimit(resource.RLIMIT_NOFILE)


def _nr_open() -> int:
    """The kernel's ceiling on any process's open-files limit (``fs.nr_open``)."""
    try:
        with open(NR_OPEN) as ceiling:
            return int(ceiling.read())
    except (OSError, ValueError):
        return ENGINE_OPEN_FILES
