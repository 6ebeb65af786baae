"""The cgroup files an environment keeps open (``sandbox/cgroups.py`` ``HELD_OPEN``): only the
environments that opened theirs last hold them, so thousands of idle environments cost the
engine no descriptor each. On the host's real hierarchy (v1 or v2); needs root and cgroups."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from flare.sandbox.cgroups import HELD_FILES, Cgroups, EnvCgroup, Limits

HOST = Cgroups.detect()
pytestmark = pytest.mark.skipif(HOST is None, reason="needs root and cgroups")


@pytest.fixture
def groups(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EnvCgroup]]:
    assert HOST is not None
    monkeypatch.setattr(HELD_FILES, "capacity", 3)
    cgroups = Cgroups(HOST.version, HOST.root, owner=f"e{os.getpid()}-test-files")
    made = [cgroups.create(f"env{i}", Limits(128, 1.0)) for i in range(5)]
    yield made
    for group in made:
        group.remove()
    cgroups.close()


def descriptors_into(group: EnvCgroup) -> int:
    """How many of this process's descriptors are open on a file of ``group``."""
    dirs = tuple(str(path) + "/" for path in group.dirs.values())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(dirs):
                count += 1
        except OSError:
            continue
    return count


def state(group: EnvCgroup) -> str:
    if group.version == 2:
        return (group.dirs["unified"] / "cgroup.freeze").read_text().strip()
    return (group.dirs["freezer"] / "freezer.state").read_text().strip()


def test_only_the_last_environments_to_open_their_files_keep_them_open(groups: list[EnvCgroup]) -> None:
    for group in groups:
        group.freeze()
    assert [descriptors_into(group) for group in groups] == [0, 0, 1, 1, 1]
    groups[0].thaw()  # opened again; now the first of the rest to have opened closes its file
    assert [descriptors_into(group) for group in groups] == [1, 0, 0, 1, 1]
    assert state(groups[0]) in ("THAWED", "0")
    assert state(groups[1]) in ("FROZEN", "1")


def test_a_removed_environment_leaves_the_held_set(groups: list[EnvCgroup]) -> None:
    for group in groups[:3]:
        group.freeze()
    assert len(HELD_FILES) == 3
    groups[2].remove()
    groups[3].freeze()
    assert [descriptors_into(group) for group in groups[:4]] == [1, 1, 0, 1]
