"""The actor behind hot reload: watches each bound directory and reloads ``$LATEST`` on change.

One thread per bound function runs ``watchfiles.watch`` (inotify on Linux) on its directory.
A burst of changes is one batch: ``watchfiles`` waits until ``STEP_MS`` pass with no new
change (at most ``DEBOUNCE_MS`` after the first). For each batch the thread installs the
directory's dependencies if its manifest is new to the build cache (``hot_reload.dependencies``:
a code change finds them cached), takes a snapshot (``hot_reload.snapshot``), stores and
unpacks it (``BlobStore``: content-addressed, so idempotent and safe off the loop), then
hands it to the event loop, where ``Registry.reload_code`` makes it ``$LATEST``'s code. Once
a watch is live it also takes one snapshot, whatever happened: a change made between the
binding's snapshot (or a restart, or the directory coming back) and the watch's start is not
missed. A directory that disappears (a build's ``rm -rf dist``) is waited for and watched
again when it comes back.

These waits are not engine timers: they wait for the host's file system, in real time, so
they do not read ``flare.clock``. What changes is decided on the loop, by the registry.

A layer version bound to a directory (``HotReload.bind_layer``, keyed by its ARN) is watched
the same way, with the default globs and no build; its snapshots go to
``Registry.reload_layer``.

Contract: ``start``, ``stop`` and the binding listener run on the event loop's thread. Watching
stops when a function is unbound (deleted, or given a zip) and resumes at ``start`` for every
binding the store kept (with that first snapshot: the directory may have changed meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flare.control import hot_reload
from flare.control.hot_reload import BuildTarget, Globs, HotReload
from flare.control.model import LATEST
from flare.control.registry import Registry
from flare.errors import BuildFailed, FlareError
from flare.store.blobs import BlobStore

log = logging.getLogger("flare.code_watch")

STEP_MS = 20
DEBOUNCE_MS = 400
ROOT_POLL_S = 0.2  # how often a vanished directory is looked for
LIVE_CHECK_MS = 200  # a new watch is taken as live after this long without a change


@dataclass
class _Watch:
    name: str
    directory: Path
    globs: Globs
    target: BuildTarget | None  # what its dependencies are installed for; None: not built
    stopped: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class CodeWatch:
    """Watches every bound directory of one ``HotReload`` (see the module docstring)."""

    def __init__(self, bindings: HotReload, registry: Registry, blobs: BlobStore) -> None:
        self._bindings = bindings
        self._registry = registry
        self._blobs = blobs
        self._watches: dict[str, _Watch] = {}  # function name => its running watch
        self._loop: asyncio.AbstractEventLoop | None = None
        bindings.add_listener(self._binding_changed)

    def __repr__(self) -> str:
        return f"<CodeWatch watching={len(self._watches)}>"

    def start(self) -> None:
        """Watch every bound directory (on the running loop), each snapshotted once live."""
        self._loop = asyncio.get_running_loop()
        for key, directory in {**self._bindings.bound(), **self._bindings.bound_layers()}.items():
            self._watch(key, directory)

    async def stop(self) -> None:
        """Stop every watch and wait for their threads."""
        watches = list(self._watches.values())
        self._watches.clear()
        for watch in watches:
            watch.stopped.set()
        for watch in watches:
            if watch.thread is not None:
                await asyncio.to_thread(watch.thread.join)
        self._loop = None

    def _binding_changed(self, name: str, directory: Path | None) -> None:
        if self._loop is None:  # not started: ``start`` watches what is bound then
            return
        current = self._watches.get(name)
        globs, target = self._settings(name)
        if current is not None and (current.directory, current.globs, current.target) == (
            directory,
            globs,
            target,
        ):
            return
        if current is not None:
            current.stopped.set()
            del self._watches[name]
        if directory is not None:
            self._watch(name, directory)

    def _settings(self, name: str) -> tuple[Globs, BuildTarget | None]:
        """The globs and build target of ``name``'s ``$LATEST`` (from its configuration); a
        layer's (``name`` its version's ARN) are the defaults, and it is not built."""
        if hot_reload.is_layer(name) or not self._registry.has_function(name):
            return Globs(), None
        latest = self._registry.resolve(name, LATEST)
        target = hot_reload.build_target(latest.runtime, latest.architecture, latest.environment)
        return hot_reload.globs_of(latest.environment), target

    def _watch(self, name: str, directory: Path) -> None:
        watch = _Watch(name, directory, *self._settings(name))
        watch.thread = threading.Thread(
            target=self._run, args=(watch,), name=f"flare-watch-{name}", daemon=True
        )
        self._watches[name] = watch
        watch.thread.start()

    def _run(self, watch: _Watch) -> None:
        """The watch's thread, until stopped: once the watch is live (its first batch, or its
        first ``LIVE_CHECK_MS`` without one), a snapshot, so nothing changed before it began is
        missed; then one after each batch of changes."""
        import watchfiles  # only engines with a hot-reload function pay for it

        def wanted(_change: watchfiles.Change, path: str) -> bool:
            relative = os.path.relpath(path, watch.directory)
            return relative != "." and watch.globs.keeps(relative.replace(os.sep, "/"))

        while not watch.stopped.is_set():
            if not watch.directory.is_dir():
                watch.stopped.wait(ROOT_POLL_S)
                continue
            live = False
            try:
                for changes in watchfiles.watch(
                    watch.directory,
                    watch_filter=wanted,
                    debounce=DEBOUNCE_MS,
                    step=STEP_MS,
                    stop_event=watch.stopped,
                    rust_timeout=LIVE_CHECK_MS,
                    yield_on_timeout=True,
                    raise_interrupt=False,
                ):
                    if not watch.directory.is_dir():
                        break
                    if changes or not live:
                        self._reload(watch)
                    live = True
            except (OSError, RuntimeError) as exc:  # e.g. the directory went as the watch began
                log.warning("hot reload of %s: watching %s failed: %s", watch.name, watch.directory, exc)
                watch.stopped.wait(ROOT_POLL_S)

    def _reload(self, watch: _Watch) -> None:
        """Snapshot ``watch``'s directory and hand it to the loop (from the watch's thread)."""
        try:
            cache = self._bindings.cache
            installed = hot_reload.dependencies(watch.directory, watch.target, cache, install=True)
            data = hot_reload.snapshot(watch.directory, watch.globs, self._bindings.policy, installed)
            self._blobs.unpacked(self._blobs.put(data))
        except BuildFailed as failed:
            log.warning("hot reload of %s: %s\n%s", watch.name, failed.message, failed.output)
            return
        except (OSError, FlareError) as exc:
            log.warning("hot reload of %s: %s is unreadable: %s", watch.name, watch.directory, exc)
            return
        loop = self._loop
        if loop is not None and not watch.stopped.is_set():
            loop.call_soon_threadsafe(self._apply, watch, data)

    def _apply(self, watch: _Watch, data: bytes) -> None:
        if watch.stopped.is_set():
            return
        reload = (
            self._registry.reload_layer if hot_reload.is_layer(watch.name) else self._registry.reload_code
        )
        try:
            if reload(watch.name, watch.directory, data):
                log.info("hot reload of %s from %s", watch.name, watch.directory)
        except FlareError as exc:
            log.warning("hot reload of %s refused: %s", watch.name, exc)
