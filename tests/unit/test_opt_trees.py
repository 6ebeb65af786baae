"""A function version's /opt: its layers' trees merged in order, once per list of layers."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from flare.store.blobs import BlobStore
from flare.store.opt_trees import OptTrees, key_of, merge_into


def make_zip(files: dict[str, str], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


@pytest.fixture
def stores(tmp_path: Path) -> tuple[BlobStore, OptTrees]:
    blobs = BlobStore(tmp_path)
    return blobs, OptTrees(tmp_path, blobs)


def test_no_layers_means_no_opt(stores: tuple[BlobStore, OptTrees]) -> None:
    assert stores[1].tree_for([]) is None


def test_one_layer_is_its_own_unpacked_tree(stores: tuple[BlobStore, OptTrees]) -> None:
    blobs, trees = stores
    digest = blobs.put(make_zip({"python/mod.py": "VALUE = 1\n"}))
    assert trees.tree_for([digest]) == blobs.unpacked(digest)


def test_later_layers_override_earlier_and_directories_merge(stores: tuple[BlobStore, OptTrees]) -> None:
    blobs, trees = stores
    first = blobs.put(make_zip({"python/shared.py": "first", "python/a.py": "a", "data": "first"}))
    second = blobs.put(make_zip({"python/shared.py": "second", "python/b.py": "b", "data": "second"}))

    merged = trees.tree_for([first, second])

    assert merged is not None
    assert merged.name == key_of([first, second])
    assert (merged / "python" / "shared.py").read_text() == "second"
    assert (merged / "python" / "a.py").read_text() == "a"
    assert (merged / "python" / "b.py").read_text() == "b"
    assert (merged / "data").read_text() == "second"
    reversed_tree = trees.tree_for([second, first])
    assert reversed_tree is not None and reversed_tree != merged
    assert (reversed_tree / "data").read_text() == "first"


def test_merged_tree_is_read_only_and_built_once(stores: tuple[BlobStore, OptTrees]) -> None:
    blobs, trees = stores
    digests = [blobs.put(make_zip({"x/one": "1"})), blobs.put(make_zip({"x/two": "2"}))]
    merged = trees.tree_for(digests)
    assert merged is not None
    inode = merged.stat().st_ino

    assert trees.tree_for(digests) == merged
    assert merged.stat().st_ino == inode
    assert stat.S_IMODE(merged.stat().st_mode) == 0o555
    assert stat.S_IMODE((merged / "x").stat().st_mode) == 0o555
    assert stat.S_IMODE((merged / "x" / "one").stat().st_mode) == 0o444


def test_files_are_hard_links_to_the_layers_files(stores: tuple[BlobStore, OptTrees]) -> None:
    blobs, trees = stores
    first, second = blobs.put(make_zip({"big": "1" * 1000})), blobs.put(make_zip({"small": "2"}))
    merged = trees.tree_for([first, second])
    assert merged is not None
    assert (merged / "big").stat().st_ino == (blobs.unpacked(first) / "big").stat().st_ino


def test_a_file_replaces_a_directory_and_a_directory_a_file(tmp_path: Path) -> None:
    target, one, two = tmp_path / "target", tmp_path / "one", tmp_path / "two"
    (one / "was-dir").mkdir(parents=True)
    (one / "was-dir" / "inner").write_text("x")
    (one / "was-file").write_text("file")
    (two / "was-file").mkdir(parents=True)
    (two / "was-file" / "now").write_text("dir")
    (two / "was-dir").write_text("now a file")
    target.mkdir()

    merge_into(target, one)
    merge_into(target, two)

    assert (target / "was-dir").read_text() == "now a file"
    assert (target / "was-file" / "now").read_text() == "dir"


def test_symlinks_are_kept_as_links(stores: tuple[BlobStore, OptTrees]) -> None:
    blobs, trees = stores
    first = blobs.put(make_zip({"lib/libx.so.1": "elf"}, {"lib/libx.so": "libx.so.1"}))
    second = blobs.put(make_zip({"other": "o"}))
    merged = trees.tree_for([first, second])
    assert merged is not None
    assert os.readlink(merged / "lib" / "libx.so") == "libx.so.1"
    assert (merged / "lib" / "libx.so").read_text() == "elf"


def test_delete_unused_keeps_only_the_trees_asked_for(stores: tuple[BlobStore, OptTrees]) -> None:
    blobs, trees = stores
    a, b, c = (blobs.put(make_zip({name: name})) for name in "abc")
    kept, dropped = trees.tree_for([a, b]), trees.tree_for([b, c])
    assert kept is not None and dropped is not None

    assert trees.delete_unused({kept.name}) == [dropped.name]
    assert kept.is_dir()
    assert not dropped.exists()
