"""``SandboxProcess.release``: after the environment's exit its cgroup is removed, and only a
cgroup that still holds processes is swept for stragglers (reading every controller's
``cgroup.procs`` for each of 1,000 environments stopping at once cost the engine ~1 s)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from flare.clock import SystemClock
from flare.sandbox.cgroups import EnvCgroup
from flare.sandbox.process import SandboxProcess


class RecordingCgroup(EnvCgroup):
    """A cgroup whose directories go once ``stragglers`` processes have been killed."""

    def __init__(self, stragglers: int) -> None:
        super().__init__(1, {"memory": Path("/nonexistent/memory")})
        self.stragglers = stragglers
        self.calls: list[str] = []

    def kill_all(self) -> None:
        self.calls.append("kill_all")
        self.stragglers = 0

    def remove(self) -> bool:
        self.calls.append("remove")
        return self.stragglers == 0


class Zygote:
    def __init__(self) -> None:
        self.forgotten: list[int] = []

    def forget(self, pid: int) -> None:
        self.forgotten.append(pid)


def released(cgroup: RecordingCgroup) -> tuple[list[str], list[int]]:
    async def scenario() -> list[int]:
        zygote: Any = Zygote()
        process = SandboxProcess(zygote, cgroup)
        process.pid, process.exit_status = 4242, 0
        await process.release(SystemClock())
        return zygote.forgotten  # type: ignore[no-any-return]

    forgotten = asyncio.run(scenario())
    return cgroup.calls, forgotten


def test_an_empty_cgroup_is_removed_without_a_sweep_for_stragglers() -> None:
    assert released(RecordingCgroup(stragglers=0)) == (["remove"], [4242])


def test_a_cgroup_with_stragglers_is_swept_then_removed() -> None:
    assert released(RecordingCgroup(stragglers=2)) == (["remove", "kill_all", "remove"], [4242])
