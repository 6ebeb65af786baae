"""A function version's ``/opt``: its layers' unpacked trees merged in order, built once.

Layout under ``root``::

    opt/<key>/     the merged tree of an ordered list of layer zips; ``key`` is the SHA-256
                   hex of their digests joined by ",", so every function version listing the
                   same layers in the same order shares one tree

A list of one layer needs no merging: its own unpacked tree (``BlobStore.unpacked``) is used.
Merging follows Lambda's rule that layers are extracted into ``/opt`` in the function's order:
a path in a later layer replaces the same path of an earlier one, directories merge. Files are
hard links to the layers' unpacked files (copies when a link is refused), so a merged tree costs
directory entries, not bytes. Like code trees: built under a temporary name and renamed into
place, then read-only. Used from the engine's event loop.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from flare.store.blobs import BlobStore, remove_tree, seal


class OptTrees:
    """Merged ``/opt`` trees under ``root / "opt"``, unpacking layers through ``blobs``."""

    def __init__(self, root: Path, blobs: BlobStore) -> None:
        self._root = root / "opt"
        self._blobs = blobs
        self._root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"<OptTrees {self._root}>"

    def tree_for(self, digests: Sequence[str]) -> Path | None:
        """The ``/opt`` of layers ``digests`` (zip digests, in the function's order), built on
        first use; None for no layers. Raises like ``BlobStore.unpacked``."""
        if not digests:
            return None
        layers = [self._blobs.unpacked(digest) for digest in digests]
        if len(layers) == 1:
            return layers[0]
        final = self._root / key_of(digests)
        if final.is_dir():
            return final
        building = self._root / f".{final.name}.{uuid.uuid4().hex}.tmp"
        building.mkdir()
        try:
            for layer in layers:
                merge_into(building, layer)
            seal(building)
            os.rename(building, final)
        except OSError:
            remove_tree(building)
            if not final.is_dir():  # not another engine's identical tree: a real failure
                raise
        return final

    def delete_unused(self, keep: set[str]) -> list[str]:
        """Delete every merged tree whose key is not in ``keep``, and leftovers of interrupted
        builds; return the deleted keys. Call only while no ``tree_for`` is running."""
        removed = []
        for tree in self._root.iterdir():
            if tree.name.startswith(".") or tree.name not in keep:
                remove_tree(tree)
                if not tree.name.startswith("."):
                    removed.append(tree.name)
        return sorted(removed)


def key_of(digests: Sequence[str]) -> str:
    """The merged tree's name for layers ``digests`` in this order."""
    return hashlib.sha256(",".join(digests).encode()).hexdigest()


def merge_into(target: Path, source: Path) -> None:
    """Put ``source``'s entries into the writable directory ``target``: a directory merges with
    the one already there, anything else replaces what was at its path. Symlinks are copied as
    links (never followed)."""
    with os.scandir(source) as entries:
        for entry in entries:
            destination = target / entry.name
            if entry.is_dir(follow_symlinks=False):
                if os.path.lexists(destination) and not destination.is_dir():
                    destination.unlink()  # a file or link of an earlier layer
                destination.mkdir(mode=0o755, exist_ok=True)
                merge_into(destination, Path(entry.path))
                continue
            _remove(destination)
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), destination)
            else:
                _link_or_copy(entry.path, destination)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _link_or_copy(source: str, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another filesystem, or links refused: a copy reads the same
        shutil.copy2(source, destination)
