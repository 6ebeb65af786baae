"""Content-addressed code zips and their read-only unpacked trees."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from flare.errors import InvalidParameterValue
from flare.store import blobs
from flare.store.blobs import BlobStore, validate_zip


def make_zip(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    """A zip of ``files``; ``modes`` sets a member's unix mode (e.g. ``stat.S_IFLNK | 0o777``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (modes or {}).get(name, stat.S_IFREG | 0o644) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def test_put_returns_sha256_hex_and_stores_once(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = make_zip({"app.py": b"x = 1\n"})
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.put(data) == digest
    assert store.path(digest).read_bytes() == data
    assert [p.name for p in (tmp_path / "blobs" / "sha256").iterdir()] == [f"{digest}.zip"]


def test_unpacked_tree_is_read_only_and_keeps_exec_bits(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = make_zip(
        {"app.py": b"print(1)\n", "bootstrap": b"#!/bin/sh\n", "pkg/mod.py": b""},
        {"bootstrap": stat.S_IFREG | 0o755},
    )
    tree = store.unpacked(store.put(data))
    assert tree == tmp_path / "code" / hashlib.sha256(data).hexdigest()
    assert (tree / "app.py").read_bytes() == b"print(1)\n"
    assert stat.S_IMODE((tree / "app.py").stat().st_mode) == 0o444
    assert stat.S_IMODE((tree / "bootstrap").stat().st_mode) == 0o555
    assert stat.S_IMODE((tree / "pkg").stat().st_mode) == 0o555
    assert stat.S_IMODE(tree.stat().st_mode) == 0o555


def test_unpacked_twice_returns_the_same_tree_without_reextracting(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put(make_zip({"a.py": b"1"}))
    first = store.unpacked(digest)
    inode = (first / "a.py").stat().st_ino
    assert store.unpacked(digest) == first
    assert (first / "a.py").stat().st_ino == inode
    assert [p.name for p in (tmp_path / "code").iterdir()] == [digest]


def test_symlink_inside_the_tree_is_kept(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = make_zip({"real.py": b"1", "alias.py": b"real.py"}, {"alias.py": stat.S_IFLNK | 0o777})
    tree = store.unpacked(store.put(data))
    assert os.readlink(tree / "alias.py") == "real.py"
    assert (tree / "alias.py").read_bytes() == b"1"


@pytest.mark.parametrize(
    ("files", "modes"),
    [
        ({"../evil.py": b"x"}, {}),
        ({"/etc/evil": b"x"}, {}),
        ({"a/../../evil": b"x"}, {}),
        ({"link": b"/etc/passwd"}, {"link": stat.S_IFLNK | 0o777}),
        ({"link": b"../../outside"}, {"link": stat.S_IFLNK | 0o777}),
        ({"a": b"b/..", "b": b".."}, {"a": stat.S_IFLNK | 0o777, "b": stat.S_IFLNK | 0o777}),
    ],
)
def test_paths_and_symlinks_escaping_the_tree_are_refused(
    tmp_path: Path, files: dict[str, bytes], modes: dict[str, int]
) -> None:
    store = BlobStore(tmp_path)
    data = make_zip(files, modes)
    with pytest.raises(InvalidParameterValue, match="Could not unzip uploaded file"):
        validate_zip(data)
        store.unpacked(store.put(data))
    assert [p for p in (tmp_path / "code").iterdir()] == []


@pytest.mark.parametrize("data", [b"", b"not a zip at all", make_zip({"a.py": b"1"})[:-10]])
def test_malformed_zip_is_invalid_parameter_value(data: bytes) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        validate_zip(data)
    assert caught.value.message == (
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )


def test_corrupt_member_data_fails_unpack_and_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = bytearray(make_zip({"a.py": b"hello world" * 100}))
    data[40] ^= 0xFF
    digest = store.put(bytes(data))
    with pytest.raises(InvalidParameterValue, match="Could not unzip"):
        store.unpacked(digest)
    assert list((tmp_path / "code").iterdir()) == []


def test_oversized_unzipped_content_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(blobs, "MAX_UNZIPPED_BYTES", 1000)
    data = make_zip({"a.bin": b"\0" * 600, "b.bin": b"\0" * 600})
    with pytest.raises(InvalidParameterValue):
        validate_zip(data)
    store = BlobStore(tmp_path)
    with pytest.raises(InvalidParameterValue):
        store.unpacked(store.put(data))


def test_too_big_message_matches_aws() -> None:
    assert blobs.TOO_BIG_MESSAGE == "Unzipped size must be smaller than 262144000 bytes"


def test_delete_unused_removes_unkept_blobs_and_trees(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    keep = store.put(make_zip({"keep.py": b"1"}))
    drop = store.put(make_zip({"drop.py": b"2"}))
    store.unpacked(keep)
    store.unpacked(drop)
    assert store.delete_unused({keep}) == [drop]
    assert store.path(keep).exists() and not store.path(drop).exists()
    assert (tmp_path / "code" / keep).is_dir() and not (tmp_path / "code" / drop).exists()


def test_delete_unused_clears_leftovers_of_interrupted_writes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    (tmp_path / "blobs" / "sha256" / ".abc.123.tmp").write_bytes(b"partial")
    (tmp_path / "code" / ".abc.123.tmp").mkdir(mode=0o555)
    store.delete_unused(set())
    assert list((tmp_path / "blobs" / "sha256").iterdir()) == []
    assert list((tmp_path / "code").iterdir()) == []
