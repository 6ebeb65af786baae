"""The deterministic zip of a directory tree: the same files always give the same bytes.

Entries are sorted by path, timestamps fixed at 1980-01-01, permissions reduced to 0755 (any
exec bit set) or 0644; symlinks are followed, each real directory walked once (so a symlink
loop ends). Which files go in is the caller's ``keep(relative_path)``. So two zips of an
unchanged tree have the same SHA-256, and hence the same ``CodeSha256``, whatever the files'
mtimes, owners or umask.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

Keep = Callable[[str], bool]
"""Given a path relative to the root (``/``-separated; a directory's ends with ``/``), whether
it goes in (a directory left out is not walked)."""

Reachable = Callable[[str], bool]
"""Given the real path (symlinks resolved) of a file or directory, whether it may be read."""


def anywhere(_real: str) -> bool:
    """Every path is reachable."""
    return True


def zip_tree(root: Path, keep: Keep, reachable: Reachable = anywhere) -> bytes:
    """The zip of every regular file under ``root`` that ``keep`` keeps and whose real path
    (and its directory's) is ``reachable`` (see the module docstring). Raises OSError when
    ``root`` or a file cannot be read."""
    return zip_trees([(root, keep, reachable)])


def zip_trees(trees: Sequence[tuple[Path, Keep, Reachable]]) -> bytes:
    """The zip of several trees laid over one another, as ``zip_tree`` zips one: each
    ``(root, keep, reachable)``'s files at the zip's root, a later tree's file replacing an
    earlier one's at the same path (``sam build``'s layout: dependencies first, then the code
    over them). Raises OSError when a root or a file cannot be read."""
    files: dict[str, Path] = {}
    for root, keep, reachable in trees:
        files.update(_files_under(root, keep, reachable))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative, path in sorted(files.items()):
            info = zipfile.ZipInfo(relative, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr's high half is read as st_mode
            info.external_attr = _zip_mode(path.stat().st_mode) << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _files_under(root: Path, keep: Keep, reachable: Reachable) -> Iterator[tuple[str, Path]]:
    visited: set[str] = set()  # real paths of directories walked, so a symlink loop ends
    for directory, subdirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(directory)
        if real in visited or not reachable(real):
            subdirs.clear()
            continue
        visited.add(real)
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else f"{base}/"
        subdirs[:] = [name for name in subdirs if keep(f"{prefix}{name}/")]
        for name in files:
            path = Path(directory, name)
            if keep(f"{prefix}{name}") and path.is_file() and reachable(os.path.realpath(path)):
                yield f"{prefix}{name}", path


def _zip_mode(st_mode: int) -> int:
    executable = st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return stat.S_IFREG | (0o755 if executable else 0o644)
