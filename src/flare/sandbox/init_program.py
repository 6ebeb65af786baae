"""Which program becomes pid 1 of each environment's pid namespace.

The zygote forks each environment's init (``runtimes/lambda_python/pid1.py``); a forked
interpreter that only reaps costs ~1.9 MiB of private pages and its page tables per
environment, so where Debian's ``catatonit`` (a static container init with a pause mode: no
child, reaps orphans) is installed, the init execs it once its sandbox is set. Its root is bare,
so the program must be statically linked; a dynamic one fails to exec and the forked
interpreter stays the init, as where none is installed.
"""

from __future__ import annotations

import os

CANDIDATES = ("/usr/bin/catatonit", "/usr/libexec/podman/catatonit")
ELF_MAGIC = b"\x7fELF"
PT_INTERP = 3


def find_init_program(candidates: tuple[str, ...] = CANDIDATES) -> str | None:
    """The first of ``candidates`` that is an executable, statically linked ELF file (one
    without a program interpreter: the init's root has no dynamic loader), or None."""
    for path in candidates:
        if os.access(path, os.X_OK) and _is_static_elf(path):
            return path
    return None


def _is_static_elf(path: str) -> bool:
    """Whether ``path`` is a 64-bit little-endian ELF file with no ``PT_INTERP`` segment."""
    try:
        with open(path, "rb") as elf:
            header = elf.read(64)
            if len(header) < 64 or header[:4] != ELF_MAGIC or header[4] != 2 or header[5] != 1:
                return False
            table = int.from_bytes(header[32:40], "little")
            entry_size = int.from_bytes(header[54:56], "little")
            count = int.from_bytes(header[56:58], "little")
            elf.seek(table)
            segments = elf.read(entry_size * count)
    except OSError:
        return False
    kinds = (int.from_bytes(segments[i : i + 4], "little") for i in range(0, len(segments), entry_size))
    return PT_INTERP not in kinds
