"""Hot reload's pure parts: which paths are code, which directories may be bound, the snapshot."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from flare.control.hot_reload import Globs, HotReloadPolicy, globs_of, requested_directory, snapshot
from flare.errors import InvalidParameterValue


@pytest.mark.parametrize(
    ("include", "exclude", "path", "kept"),
    [
        ((), (), "app.py", True),
        ((), (), "lib/helper.py", True),
        ((), (), "__pycache__/", False),
        ((), (), "__pycache__/app.cpython-311.pyc", False),
        ((), (), "pkg/__pycache__/m.cpython-311.pyc", False),
        ((), (), ".git/", False),
        ((), (), ".app.py.swp", False),
        ((), (), "app.py~", False),
        ((), (), "4913", False),
        ((), ("*.log",), "logs/debug.log", False),
        ((), ("tests",), "tests/", False),
        ((), ("tests/*.py",), "tests/test_a.py", False),
        ((), ("tests/*.py",), "app.py", True),
        (("*.py",), (), "app.py", True),
        (("*.py",), (), "README.md", False),
        (("*.py",), (), "lib/", True),  # directories are walked; their files are judged
        (("src/*",), (), "src/app.js", True),
        (("src/*",), (), "app.js", False),
    ],
)
def test_globs_decide_which_paths_are_code(
    include: tuple[str, ...], exclude: tuple[str, ...], path: str, kept: bool
) -> None:
    assert (
        globs_of(
            {"FLARE_HOT_RELOAD_INCLUDE": ",".join(include), "FLARE_HOT_RELOAD_EXCLUDE": ",".join(exclude)}
        ).keeps(path)
        is kept
    )


@pytest.mark.parametrize(
    ("code", "directory"),
    [
        ({"S3Bucket": "hot-reload", "S3Key": "/src/fn"}, "/src/fn"),
        ({"S3Bucket": "__local__", "S3Key": "/src/fn"}, "/src/fn"),
        ({"S3Bucket": "hot-reload"}, ""),
        ({"S3Bucket": "my-bucket", "S3Key": "/src/fn"}, None),
        ({"ZipFile": "UEsFBg=="}, None),
        ("not a mapping", None),
    ],
)
def test_only_the_magic_buckets_ask_for_hot_reload(code: object, directory: str | None) -> None:
    assert requested_directory(code) == directory


def test_policy_for_open_auth_allows_any_readable_directory(tmp_path: Path) -> None:
    assert HotReloadPolicy.for_server("open", ()).check(str(tmp_path)) == tmp_path.resolve()


def test_policy_for_sigv4_without_roots_allows_none(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="--hot-reload-root"):
        HotReloadPolicy.for_server("sigv4", ()).check(str(tmp_path))


def test_policy_with_roots_allows_only_what_is_under_them(tmp_path: Path) -> None:
    (tmp_path / "root" / "fn").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    policy = HotReloadPolicy.for_server("sigv4", (str(tmp_path / "root"),))
    assert policy.check(str(tmp_path / "root" / "fn")) == (tmp_path / "root" / "fn").resolve()
    with pytest.raises(InvalidParameterValue, match="outside"):
        policy.check(str(tmp_path / "other"))


def test_a_symlink_out_of_a_root_is_judged_by_its_target(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", tmp_path / "root" / "link")
    policy = HotReloadPolicy.for_server("open", (str(tmp_path / "root"),))
    with pytest.raises(InvalidParameterValue, match="outside"):
        policy.check(str(tmp_path / "root" / "link"))


def test_snapshot_is_deterministic_and_leaves_out_what_is_not_code(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"stale")
    first = snapshot(tmp_path, Globs(), HotReloadPolicy())
    os.utime(tmp_path / "app.py", (0, 0))
    assert snapshot(tmp_path, Globs(), HotReloadPolicy()) == first
    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == ["app.py"]
    (tmp_path / "app.py").write_text("x = 2")
    assert snapshot(tmp_path, Globs(), HotReloadPolicy()) != first


def test_a_snapshot_follows_no_symlink_out_of_the_roots(tmp_path: Path) -> None:
    (tmp_path / "root" / "fn" / "shared").mkdir(parents=True)
    (tmp_path / "root" / "fn" / "app.py").write_text("x = 1")
    (tmp_path / "root" / "lib.py").write_text("y = 2")
    (tmp_path / "secret.txt").write_text("no")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key").write_text("no")
    function = tmp_path / "root" / "fn"
    os.symlink(tmp_path / "root" / "lib.py", function / "lib.py")
    os.symlink(tmp_path / "secret.txt", function / "secret.txt")
    os.symlink(tmp_path / "secrets", function / "secrets")
    rooted = HotReloadPolicy.for_server("open", (str(tmp_path / "root"),))
    names = zipfile.ZipFile(io.BytesIO(snapshot(function, Globs(), rooted))).namelist()
    assert sorted(names) == ["app.py", "lib.py"]
    anywhere = zipfile.ZipFile(io.BytesIO(snapshot(function, Globs(), HotReloadPolicy()))).namelist()
    assert sorted(anywhere) == ["app.py", "lib.py", "secret.txt", "secrets/key"]
