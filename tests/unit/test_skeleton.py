"""Skeleton roots: the shape a plan needs, built once, readable by any uid, shared."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from flare.sandbox.skeleton import Shape, Skeletons, shape_of


def sample_shape(tmp_path: Path) -> Shape:
    code = tmp_path / "code"
    code.mkdir()
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    binds = [
        (str(code), "/var/task", False),
        (str(resolv), "/etc/resolv.conf", False),
        ("/tmp", "/tmp", True),
    ]
    return shape_of(binds, [("usr/bin", "/bin")], ["/opt"], ["null", "zero"], [])


def test_shape_has_a_mount_point_of_the_sources_kind_for_every_mount(tmp_path: Path) -> None:
    shape = sample_shape(tmp_path)
    assert shape.dirs == ("/dev", "/opt", "/proc", "/tmp", "/var/task")
    assert shape.files == ("/dev/null", "/dev/zero", "/etc/resolv.conf")
    assert ("usr/bin", "/bin") in shape.symlinks
    assert ("/proc/self/fd", "/dev/fd") in shape.symlinks


def test_skeleton_holds_exactly_the_shape_open_to_every_uid_whatever_the_umask(tmp_path: Path) -> None:
    shape = sample_shape(tmp_path)
    old = os.umask(0o077)
    try:
        path = Path(Skeletons(tmp_path / "skeletons").path_for(shape))
    finally:
        os.umask(old)
    found = {"/" + str(p.relative_to(path)) for p in path.rglob("*")}
    expected = {*shape.dirs, *shape.files, *(link for _, link in shape.symlinks)}
    assert found == expected | {"/etc", "/var"}
    assert os.readlink(path / "bin") == "usr/bin"
    for item in [path, *path.rglob("*")]:
        if item.is_symlink():
            continue
        mode = stat.S_IMODE(item.stat().st_mode)
        assert mode == (0o755 if item.is_dir() else 0o644), item


def test_a_shape_is_built_once_and_found_again_by_another_engine(tmp_path: Path) -> None:
    shape = sample_shape(tmp_path)
    first = Skeletons(tmp_path / "skeletons").path_for(shape)
    marker = Path(first) / "opt" / "marker"
    marker.touch()
    again = Skeletons(tmp_path / "skeletons").path_for(shape)
    assert again == first and marker.exists(), "an existing skeleton is reused, not rebuilt"
    other = Skeletons(tmp_path / "skeletons").path_for(shape_of([], [], ["/other"], [], []))
    assert other != first
    assert [p.name for p in (tmp_path / "skeletons").iterdir() if p.name.startswith(".")] == []
