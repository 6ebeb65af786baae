"""Engines sharing a host sweep only what dead engines left (sandbox/cgroups.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from flare.sandbox.cgroups import V1_CONTROLLERS, Cgroups, engine_owner, owner_alive


def dead_owner() -> str:
    """The owner name of an engine process that has exited."""
    process = subprocess.Popen(["true"])
    owner = engine_owner(process.pid)
    process.wait()
    return owner


def v1_root(tmp_path: Path) -> Path:
    for name in V1_CONTROLLERS:
        (tmp_path / name / "flare").mkdir(parents=True)
    return tmp_path


def test_an_owner_is_alive_while_its_process_runs() -> None:
    assert owner_alive(engine_owner())
    assert not owner_alive(dead_owner())
    pid, start = engine_owner().removeprefix("e").split("-")
    assert not owner_alive(f"e{pid}-{int(start) + 1}")  # the pid, reused by a later process
    assert not owner_alive("env-1234")


def test_leftovers_are_a_dead_engines_cgroups_never_a_live_ones(tmp_path: Path) -> None:
    root = v1_root(tmp_path)
    live, dead = engine_owner(os.getppid()), dead_owner()
    for name in V1_CONTROLLERS:
        (root / name / "flare" / live / "env-live").mkdir(parents=True)
        (root / name / "flare" / dead / "env-dead").mkdir(parents=True)
        (root / name / "flare" / "env-old").mkdir()  # a Flare from before per-engine parents
    mine = Cgroups(1, root)
    found = {path.relative_to(root) for path in mine.leftovers()}
    assert found == {
        path
        for name in V1_CONTROLLERS
        for path in (
            Path(name, "flare", dead, "env-dead"),
            Path(name, "flare", dead),
            Path(name, "flare", "env-old"),
        )
    }
    assert mine.sweep() == 0
    assert all((root / name / "flare" / live / "env-live").is_dir() for name in V1_CONTROLLERS)
    assert not any((root / name / "flare" / dead).exists() for name in V1_CONTROLLERS)


def test_an_engine_makes_its_cgroups_under_its_own_parent_and_removes_it_when_done(tmp_path: Path) -> None:
    root = v1_root(tmp_path)
    cgroups = Cgroups(1, root)
    for name in V1_CONTROLLERS:
        (root / name / "flare" / cgroups.owner).mkdir()
    assert cgroups.owner == engine_owner()
    assert cgroups.leftovers() == []
    cgroups.close()
    assert not any((root / name / "flare" / cgroups.owner).exists() for name in V1_CONTROLLERS)
