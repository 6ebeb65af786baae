"""A SnapStart environment: instead of INIT, it adopts a restore of its version's snapshot.

Everything after the start (invocations, freeze, SHUTDOWN) is ``Environment``'s; only how it
comes to life differs: a restore prepared from the snapshot (forked, sandboxed and in its
cgroup, see ``snapshot.py``) is adopted and let go, and runs its after-restore hooks.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable
from typing import Any

from flare.errors import FlareError, SnapStartException, SnapStartTimeout
from flare.runtimes.lambda_python import frames
from flare.sandbox.channel import FrameProtocol, InitError, InitTimeout, fail_future
from flare.sandbox.environment import Environment
from flare.sandbox.extension_phases import extension_names
from flare.sandbox.forkserver import ZygoteDied
from flare.sandbox.lifecycle import EnvState
from flare.sandbox.prepared import PreparedRestore
from flare.sandbox.snapshot import RESTORE_LIMIT_S

EXTENSIONS_NOT_RESTORED = "SnapStart environments do not run extensions yet"


class RestoredEnvironment(Environment):
    """``restore_from()`` gives the prepared restore to adopt (it raises when there is none)."""

    RESTORES = True

    def __init__(
        self, *args: Any, restore_from: Callable[[], Awaitable[PreparedRestore]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._restore_from = restore_from
        self._restore_answered = False

    async def start(
        self, init_limit_s: float, initialization_type: str = "snap-start", cpu_burst: bool = False
    ) -> None:
        """A SnapStart cold start: adopt a restore prepared from the version's snapshot (forked,
        sandboxed, in its cgroup), then let it run its after-restore hooks, at the function's
        CPU share (a restore is not an INIT: ``cpu_burst`` does not apply). Sets
        ``restore_error`` (SnapStartException / SnapStartTimeout) when that fails."""
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        try:
            prepared = await self._restore_from()
        except (FlareError, OSError, ZygoteDied) as error:
            self._fail()
            message = error.message if isinstance(error, FlareError) else str(error)
            self.restore_error = SnapStartException(f"Restoring the snapshot failed: {message}")
            return
        self._adopt(prepared)
        began = self._clock.now()
        self._log([*self._platform.restore_start(), *prepared.held, *self._extensions_note()])
        self.lifecycle.move(EnvState.INITIALISING)
        assert self.process is not None
        self.process.exited.add_done_callback(self._on_process_exit)
        timer = self._clock.call_later(RESTORE_LIMIT_S, lambda: fail_future(self._ready, InitTimeout()))
        try:
            prepared.channel.setblocking(True)
            prepared.channel.sendall(frames.encode(frames.GO))
            if self._uses_frames:
                loop = asyncio.get_running_loop()
                self._channel, _ = await loop.create_unix_connection(
                    lambda: FrameProtocol(self), sock=prepared.channel
                )
            else:  # a runtime client over HTTP: restore/next, its hooks, then /next (ready)
                prepared.channel.close()
            await self._ready
        except InitTimeout:
            self.restore_error = SnapStartTimeout("Restore of the snapshot took longer than 10 seconds.")
        except (InitError, OSError) as error:
            detail = error.outcome.payload.decode() if isinstance(error, InitError) else str(error)
            self.restore_error = SnapStartException(f"Restoring the snapshot failed: {detail}")
        finally:
            timer.cancel()
        restore_ms = (self._clock.now() - began) * 1000
        self._log(
            [*(self._logpipe.drain() if self._logpipe else []), *self._platform.restore_report(restore_ms)]
        )
        if self.restore_error is not None:
            self._fail()
            self._kill()
            return
        self._pending_restore_ms = restore_ms
        self.lifecycle.move(EnvState.IDLE)

    def _extensions_note(self) -> list[str]:
        """A restored environment starts none of its layers' extensions (they are processes of
        their own, which the template's fork does not copy; on Lambda they are in the snapshot
        and restored with it): the log says so rather than running without them unseen."""
        names = extension_names(self.version)
        if not names:
            return []
        return [f"flare: {EXTENSIONS_NOT_RESTORED}; this environment runs without {', '.join(names)}"]

    # ---- Runtime API side, for runtime clients other than Flare's (awslambdaric) -----------

    def restore_next(self) -> None:
        """The runtime client's ``GET /restore/next`` in this restored copy: answered 200, once."""
        if self.state is not EnvState.INITIALISING or self._restore_answered:
            super().restore_next()
        self._restore_answered = True

    def post_restore_error(self, body: bytes, error_type: str | None) -> None:
        """An after-restore hook failed (the client exits next): the restore fails."""
        if self.state is not EnvState.INITIALISING:
            super().post_restore_error(body, error_type)
        self._init_error(body, error_type or "Runtime.AfterRestoreError")

    def _adopt(self, prepared: PreparedRestore) -> None:
        """Take over a prepared restore's process, scratch, uid, Runtime API and output."""
        self.id = prepared.id
        today = datetime.datetime.fromtimestamp(self._clock.wall(), datetime.UTC)
        self.stream = f"{today:%Y/%m/%d}/[{self.version.version}]{self.id}"
        self.process = prepared.process
        self.pid = prepared.process.pid
        self._scratch = prepared.scratch
        self.uid = prepared.uid
        self._runtime_api = prepared.runtime_api
        self._runtime_api.bind(self)
        self._logpipe = prepared.logpipe
        self._logpipe.rebind(self._on_log_lines)
