"""``sandbox/init_program.py``: only an executable, statically linked ELF file is taken as the
environments' init (their root has no dynamic loader)."""

from __future__ import annotations

import struct
from pathlib import Path

from flare.sandbox.init_program import PT_INTERP, find_init_program

PT_LOAD = 1


def elf(path: Path, segments: list[int], mode: int = 0o755) -> str:
    """A 64-bit little-endian ELF file with program headers of the kinds ``segments``."""
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 32, 64)  # e_phoff: right after this header
    struct.pack_into("<HH", header, 54, 56, len(segments))  # e_phentsize, e_phnum
    table = b"".join(struct.pack("<I", kind) + bytes(52) for kind in segments)
    path.write_bytes(bytes(header) + table)
    path.chmod(mode)
    return str(path)


def test_a_static_executable_is_found(tmp_path: Path) -> None:
    static = elf(tmp_path / "static", [PT_LOAD, PT_LOAD])
    assert find_init_program((str(tmp_path / "missing"), static)) == static


def test_a_dynamic_one_or_one_not_executable_is_not(tmp_path: Path) -> None:
    dynamic = elf(tmp_path / "dynamic", [PT_LOAD, PT_INTERP, PT_LOAD])
    not_executable = elf(tmp_path / "plain", [PT_LOAD], mode=0o644)
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\nexec sleep infinity\n")
    script.chmod(0o755)
    assert find_init_program((dynamic, not_executable, str(script))) is None
