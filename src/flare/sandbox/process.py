"""An environment's process tree, as the engine controls it: spawn, freeze, signal, reap, clean.

The tree is one process group led by ``pid`` (forked by a zygote), and — where the host allows
— one cgroup. Freezing uses the cgroup freezer (background threads really stop), else SIGSTOP
of the group. Contract: ``spawn`` once; ``exited`` resolves with the raw wait status whatever
ends the process; ``release`` after it exited leaves no process, cgroup or record behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from typing import Any

from flare.clock import Clock
from flare.sandbox import exits, resident
from flare.sandbox.cgroups import EnvCgroup
from flare.sandbox.forkserver import Zygote

log = logging.getLogger("flare.process")

CGROUP_REMOVE_ATTEMPTS = 200
CGROUP_REMOVE_PAUSE_S = 0.005


def signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class SandboxProcess:
    def __init__(self, zygote: Zygote, cgroup: EnvCgroup | None) -> None:
        self.pid: int | None = None
        self.cgroup = cgroup
        self.exit_status: int | None = None
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.frozen = False
        self.host_pgid: int | None = None  # a restore's process group as the host sees it
        self._zygote = zygote
        self._peak_read = (0, 0)  # (the cgroup's peak in bytes, max_memory_kb's answer) when last read

    async def spawn(self, spawn_id: str, header: dict[str, Any], fds: Sequence[int]) -> int:
        if self.cgroup is not None:
            header = dict(
                header,
                sandbox=dict(header.get("sandbox") or {}, cgroup_procs=self.cgroup.procs_files),
                thaw_file=self.cgroup.thaw_file,
            )
        self.pid = await self._zygote.spawn(spawn_id, header, fds)
        self._zygote.exit_status(self.pid).add_done_callback(self._on_exit)
        return self.pid

    def _on_exit(self, future: asyncio.Future[int]) -> None:
        status = -1 if future.cancelled() or future.exception() else future.result()
        self.exit_status = status
        if not self.exited.done():
            self.exited.set_result(status)

    @property
    def group(self) -> int | None:
        """The process group to signal (a restore's ``pid`` is in its template's namespace)."""
        return self.host_pgid if self.host_pgid is not None else self.pid

    @property
    def alive(self) -> bool:
        return self.pid is not None and self.exit_status is None

    def freeze(self) -> None:
        if not self.alive or self.frozen:
            return
        if self.cgroup is not None:
            self.cgroup.freeze()
        else:
            signal_group(self.group, signal.SIGSTOP)  # type: ignore[arg-type]
        self.frozen = True

    def thaw(self) -> None:
        if not self.frozen or self.pid is None:
            return
        if self.cgroup is not None:
            self.cgroup.thaw()
        else:
            signal_group(self.group, signal.SIGCONT)  # type: ignore[arg-type]
        self.frozen = False

    def terminate(self) -> None:
        """SIGTERM to the whole group, thawed so it can run its handlers."""
        if self.alive:
            group = self.group
            assert group is not None
            signal_group(group, signal.SIGTERM)
            if self.cgroup is None and self.frozen:
                signal_group(self.group, signal.SIGCONT)  # type: ignore[arg-type]
                self.frozen = False
            else:
                self.thaw()

    def kill(self) -> None:
        """SIGKILL to the whole group (thawed first: a frozen process cannot die)."""
        if self.alive:
            group = self.group
            assert group is not None
            self.thaw()
            signal_group(group, signal.SIGKILL)

    def describe_exit(self) -> tuple[str, str]:
        """``(errorType, "Runtime exited with error: ...")`` for how the process ended."""
        status = -1 if self.exit_status is None else self.exit_status
        if self.cgroup is not None and self.cgroup.oom_killed():
            return "Runtime.OutOfMemory", exits.exit_error(status)
        return exits.error_type(status), exits.exit_error(status)

    def max_memory_kb(self, reported_rss_kb: int) -> int:
        """Peak resident memory of the environment as Lambda counts it (``resident.peak_kb``):
        its processes' peaks, its cgroup's, or what the runtime reported."""
        if self.cgroup is None:
            return resident.peak_kb(None, 0, reported_rss_kb, self.pid)
        cgroup_peak = self.cgroup.peak_memory_bytes()
        if cgroup_peak == self._peak_read[0] and self._peak_read[1]:
            # Nothing new was charged since the last read, so no process's peak grew: the
            # processes' figures (a /proc read each, ~0.1 ms an invocation) are not read again.
            return max(self._peak_read[1], reported_rss_kb)
        listing = resident.procs_file_of(self.cgroup.dirs, self.cgroup.version)
        peak = resident.peak_kb(listing, cgroup_peak, reported_rss_kb, None)
        self._peak_read = (cgroup_peak, peak)
        return peak

    async def release(self, clock: Clock) -> None:
        """After exit: remove the cgroup (killing stragglers first if it is not empty), forget
        the pid. The removal is tried first: once the sandbox's init has exited its pid
        namespace is gone, so the cgroup is nearly always empty, and reading every controller's
        ``cgroup.procs`` for stragglers cost ~1 ms of the engine's CPU per environment (~1 s
        when the engine stops 1,000 at once). The removal (an ``rmdir`` per controller, ~0.5
        ms in all on v1) runs on a worker thread, off the event loop."""
        if self.cgroup is not None:
            loop = asyncio.get_running_loop()
            for _ in range(CGROUP_REMOVE_ATTEMPTS):
                if await loop.run_in_executor(None, self.cgroup.remove):
                    break
                self.cgroup.kill_all()
                await clock.sleep(CGROUP_REMOVE_PAUSE_S)
            else:
                log.warning("could not remove cgroup %s", self.cgroup.dirs)
        if self.pid is not None:
            self._zygote.forget(self.pid)
