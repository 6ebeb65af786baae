"""Skeletons: ready-made root directories that a sandbox's mounts go onto.

An environment's root is a read-only bind of a skeleton: a directory holding one empty
mount point for each bind of its plan (a directory, or a file for a file bind), ``/proc``,
``/dev`` with a file per device and its ``fd``/``std*`` links, ``/tmp``, the plan's extra
directories and its symlinks (``/bin -> usr/bin`` ...), and nothing else. Building that tree
inside every new mount namespace cost about 1.5 ms of mkdir, symlink and tmpfs work per cold
start; a skeleton is built once per *shape* (the set of mount points and links) and shared by
every environment of that shape, so a cold start only mounts.

Skeletons live under ``root/<digest of the shape>``, owned by root with mode 0755, and are
never changed once built (a new shape gets a new directory), so concurrent engines and
environments can share them. Built into a temporary name and renamed into place: a reader
never sees half a skeleton. Used from the engine's event loop; building is a few dozen
syscalls, once per shape.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

# Device nodes a sandbox's /dev offers, bound from the host's (as Lambda's /dev has them).
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
)


@dataclass(frozen=True)
class Shape:
    """Every path a skeleton must hold, relative to its root (all absolute, like ``/var/task``)."""

    dirs: tuple[str, ...]
    files: tuple[str, ...]
    symlinks: tuple[tuple[str, str], ...]  # (target, link)

    def digest(self) -> str:
        text = json.dumps([self.dirs, self.files, self.symlinks])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def shape_of(
    binds: list[tuple[str, str, bool]],
    symlinks: list[tuple[str, str]],
    dirs: list[str],
    devices: list[str],
    tmpfs_targets: list[str],
) -> Shape:
    """The shape a plan needs: a directory or file per bind target (as its source is), one
    per tmpfs, ``/proc``, ``/dev`` and its devices and links. Reads only the sources' types."""
    wanted_dirs = {"/proc", "/dev", *dirs, *tmpfs_targets}
    files = {f"/dev/{name}" for name in devices}
    for source, target, _writable in binds:
        (wanted_dirs if os.path.isdir(source) else files).add(target)
    links = {(target, link) for target, link in symlinks}
    links |= {(target, f"/dev/{name}") for name, target in DEV_LINKS}
    return Shape(tuple(sorted(wanted_dirs)), tuple(sorted(files)), tuple(sorted(links)))


class Skeletons:
    """The skeletons under ``root``, built on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known: dict[Shape, str] = {}

    def __repr__(self) -> str:
        return f"<Skeletons {self.root} known={len(self._known)}>"

    def path_for(self, shape: Shape) -> str:
        """The skeleton directory of ``shape``, building it if it is not there yet. Raises
        OSError when it cannot be built."""
        known = self._known.get(shape)
        if known is not None:
            return known
        path = self.root / shape.digest()
        if not path.is_dir():
            self._build(shape, path)
        self._known[shape] = str(path)
        return str(path)

    def _build(self, shape: Shape, path: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        building = self.root / f".building-{uuid.uuid4().hex}"
        try:
            building.mkdir(mode=0o755)
            for directory in shape.dirs:
                os.makedirs(f"{building}{directory}", mode=0o755, exist_ok=True)
            for file in shape.files:
                os.makedirs(os.path.dirname(f"{building}{file}"), mode=0o755, exist_ok=True)
                os.close(os.open(f"{building}{file}", os.O_CREAT | os.O_WRONLY, 0o644))
            for target, link in shape.symlinks:
                os.makedirs(os.path.dirname(f"{building}{link}"), mode=0o755, exist_ok=True)
                os.symlink(target, f"{building}{link}")
            _open_up(building)
            try:
                os.rename(building, path)
            except OSError:
                if not path.is_dir():  # not another engine's identical skeleton: a real failure
                    raise
        finally:
            shutil.rmtree(building, ignore_errors=True)


def _open_up(top: Path) -> None:
    """Directories 0755 and files 0644 under ``top``, whatever the umask made of them (a
    function's uid must traverse them). Symlinks are left alone: chmod would follow them."""
    os.chmod(top, 0o755)
    for parent, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755 if name in dirs else 0o644)
