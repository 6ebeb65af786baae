"""Hot reload: a function whose ``$LATEST`` code is a directory on the engine's host.

Asking for it is LocalStack's spelling, so tools written for LocalStack work unchanged: a
``Code`` (CreateFunction) or UpdateFunctionCode body with ``S3Bucket`` ``hot-reload`` (or the
older ``__local__``) and ``S3Key`` the directory's absolute path on the host. Flare then:

* takes a **snapshot** of the directory at once, and again after every change under it
  (``code_watch``): a deterministic zip (``tree_zip``) stored like any uploaded zip, unpacked into
  its own content-addressed read-only tree. Each snapshot is, to the API, what an
  UpdateFunctionCode would have made: a new ``CodeSha256`` and ``CodeSize`` (of the snapshot's
  zip, which GetFunction's ``Code.Location`` downloads), ``RevisionId`` and ``LastModified``;
  ``LastUpdateStatus`` stays ``Successful``. (LocalStack answers a fixed placeholder hash
  instead; a real one lets PublishVersion's ``CodeSha256`` check and clients' caches work.)
* so the next invoke runs the new code in a **fresh environment**; idle environments of the
  old revision are retired, busy ones finish their invocation first (the pool's retirement on a
  new RevisionId). An edit during an invocation cannot break it: it runs from its own snapshot,
  never from the live directory.
* binds only ``$LATEST``: PublishVersion freezes the current snapshot, and published versions
  (SnapStart, provisioned concurrency) never change.
* leaves out of every snapshot, and ignores changes to, ``DEFAULT_EXCLUDES``: ``__pycache__``
  (a ``.pyc`` compiled from an older source is never shipped, and the read-only ``/var/task``
  lets no environment write one), VCS directories and editors' temporary files. The function's
  environment variables ``FLARE_HOT_RELOAD_INCLUDE`` and ``FLARE_HOT_RELOAD_EXCLUDE`` add globs
  (comma-separated, matched against the path relative to the directory and against each of its
  parts; with an include list, only files matching one go in). Variables, not tags: AWS's tag
  values may not hold ``*`` or ``,``.
* builds, as ``sam build`` does (``flare.build``): a ``requirements.txt`` (``python3.*``) or
  ``package.json`` (``nodejs*``) in the directory has its dependencies installed into the
  engine's build cache (keyed by the manifest, runtime and architecture) and every snapshot
  holds them at its root, the code over them. The install runs on the watch's thread, never on
  the loop: the binding's own snapshot takes the dependencies only from the cache (``flare
  deploy --watch`` fills it first), the watch's first snapshot installs what is missing, and a
  changed manifest installs again (a code change reuses the cache). These installs take wheels
  only and run no npm scripts (no package's code runs in the engine's user). The function's
  variable ``FLARE_HOT_RELOAD_BUILD=false`` turns building off.
* for Node.js, ships ``.map`` files with the code, so ``NODE_OPTIONS=--enable-source-maps``
  maps stack traces to the sources (``flare deploy --watch`` sets it for ``nodejs*``).

Layers too: PublishLayerVersion's ``Content`` in the same spelling publishes a version from a
snapshot of the directory and binds that version (``bind_layer``, keyed by its ARN); a change
under it gives the ``$LATEST`` of every function listing it the new snapshot as ``/opt`` and a
fresh environment (``Registry.reload_layer``); published versions keep the published snapshot.

Trust: the directory is read by the engine's user and its files end up runnable by anyone who
may invoke the function. So the server decides which directories may be bound
(``HotReloadPolicy``): under ``--auth open`` (a developer's own machine) any readable directory,
unless ``--hot-reload-root`` limits it; under any other auth mode, none unless
``--hot-reload-root`` names the roots allowed.

A changed binding (UpdateFunctionCode with a zip, DeleteFunction) is told to listeners
(``add_listener``); the bindings are durable (``store/hot_reload.py``), so watching resumes
after a restart.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flare.build import manifest as manifests
from flare.build.dependency_cache import DependencyCache
from flare.build.package import package_zip
from flare.control.model import LATEST
from flare.errors import InvalidParameterValue
from flare.store.hot_reload import HotReloadStore

HOT_RELOAD_BUCKETS = frozenset({"hot-reload", "__local__"})
BUILD_VARIABLE = "FLARE_HOT_RELOAD_BUILD"
OFF_VALUES = frozenset({"false", "0", "off", "no"})
INCLUDE_VARIABLE = "FLARE_HOT_RELOAD_INCLUDE"
EXCLUDE_VARIABLE = "FLARE_HOT_RELOAD_EXCLUDE"
DEFAULT_EXCLUDES = (
    "__pycache__",
    ".git",
    ".hg",
    ".svn",
    ".*.swp",
    ".*.swx",
    "*~",
    ".#*",
    "4913",  # vim's probe file
    ".DS_Store",
    ".flare",  # Flare's own data directory (``flare dev``'s, ``make run``'s): never code
)

BindingListener = Callable[[str, "Path | None"], None]
"""``(key, directory or None)``: a function's name, or a layer version's ARN (``is_layer``)."""


def is_layer(key: str) -> bool:
    """Whether a binding's key is a layer version's ARN (a function's is its name: no ``:``)."""
    return key.startswith("arn:")


@dataclass(frozen=True)
class Globs:
    """Which paths under a bound directory are code: see ``keeps``."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES

    def keeps(self, relative: str) -> bool:
        """Whether ``relative`` (``/``-separated; a directory's ends with ``/``) is code: no
        part of it and not the whole matches an exclude glob, and (for a file, when there are
        include globs) the path or its name matches one."""
        path = relative.rstrip("/")
        parts = path.split("/")
        if any(fnmatch.fnmatchcase(part, glob) for part in parts for glob in self.exclude):
            return False
        if any(fnmatch.fnmatchcase(path, glob) for glob in self.exclude):
            return False
        if relative.endswith("/") or not self.include:
            return True
        return any(fnmatch.fnmatchcase(path, g) or fnmatch.fnmatchcase(parts[-1], g) for g in self.include)


def globs_of(variables: Mapping[str, str]) -> Globs:
    """The globs a function's environment variables ask for, on top of ``DEFAULT_EXCLUDES``."""

    def split(key: str) -> tuple[str, ...]:
        return tuple(glob.strip() for glob in variables.get(key, "").split(",") if glob.strip())

    return Globs(split(INCLUDE_VARIABLE), DEFAULT_EXCLUDES + split(EXCLUDE_VARIABLE))


@dataclass(frozen=True)
class BuildTarget:
    """What a bound directory's dependencies are installed for."""

    runtime: str
    architecture: str


def build_target(runtime: str, architecture: str, variables: Mapping[str, str]) -> BuildTarget | None:
    """What to build a function's bound directory for; None when its variables turn building
    off (``FLARE_HOT_RELOAD_BUILD=false``)."""
    if variables.get(BUILD_VARIABLE, "").strip().lower() in OFF_VALUES:
        return None
    return BuildTarget(runtime, architecture)


def dependencies(
    directory: Path, target: BuildTarget | None, cache: DependencyCache, install: bool
) -> Path | None:
    """The installed dependencies of ``directory``'s manifest for ``target``: from ``cache``, or
    with ``install`` installed into it on a miss; None without a target, a manifest, or (not
    ``install``) a cached tree. Raises BuildFailed (``install`` only), OSError."""
    if target is None:
        return None
    found = manifests.find(directory, target.runtime)
    if found is None:
        return None
    if not install:
        return cache.lookup(found, target.runtime, target.architecture)
    return cache.ensure(found, directory, target.runtime, target.architecture).path


def snapshot(directory: Path, globs: Globs, policy: HotReloadPolicy, installed: Path | None = None) -> bytes:
    """The zip of ``directory``'s code now (deterministic: an unchanged tree gives the same
    bytes), laid over the ``installed`` dependencies when given; a symlink of the code is
    followed only where ``policy`` allows (``HotReloadPolicy.reaches``). Raises OSError when it
    cannot be read."""
    return package_zip(directory, globs.keeps, installed, policy.reaches)


def requested_directory(code: object) -> str | None:
    """The directory a ``Code`` structure or UpdateFunctionCode body binds (its ``S3Key``),
    or None when it is not hot reload (its ``S3Bucket`` is not one of ``HOT_RELOAD_BUCKETS``)."""
    if not isinstance(code, Mapping) or code.get("S3Bucket") not in HOT_RELOAD_BUCKETS:
        return None
    key = code.get("S3Key")
    return key if isinstance(key, str) else ""


@dataclass(frozen=True)
class HotReloadPolicy:
    """Which host directories may be bound: any (``roots`` None), none (empty), or those
    under one of ``roots`` (absolute, resolved)."""

    roots: tuple[Path, ...] | None = None

    @classmethod
    def for_server(cls, auth: str, roots: tuple[str, ...]) -> HotReloadPolicy:
        """The policy for a server started with ``--auth auth`` and ``--hot-reload-root``s
        ``roots`` (see the module docstring)."""
        if roots:
            return cls(tuple(Path(os.path.realpath(root)) for root in roots))
        return cls(None if auth == "open" else ())

    def reaches(self, real: str) -> bool:
        """Whether the real path ``real`` (symlinks resolved) is under an allowed root (any
        path, with no roots set): what a snapshot may read, so a symlink in a bound directory
        cannot lead out of the roots."""
        return self.roots is None or any(Path(real).is_relative_to(root) for root in self.roots)

    def check(self, raw: str) -> Path:
        """The directory ``raw`` names, resolved, if it may be bound. Raises
        InvalidParameterValue: not absolute, not an existing readable directory, or outside
        the allowed roots."""
        if self.roots == ():
            raise InvalidParameterValue(
                "Hot reload is off on this server: start it with --hot-reload-root to allow directories."
            )
        if not raw or not os.path.isabs(raw):
            raise InvalidParameterValue(f"Hot reload S3Key must be an absolute host path, got {raw!r}.")
        directory = Path(os.path.realpath(raw))
        if not directory.is_dir():
            raise InvalidParameterValue(f"Hot reload directory {raw} does not exist or is not a directory.")
        if not os.access(directory, os.R_OK | os.X_OK):
            raise InvalidParameterValue(f"Hot reload directory {raw} cannot be read by the server.")
        if not self.reaches(str(directory)):
            raise InvalidParameterValue(
                f"Hot reload directory {raw} is outside the directories this server allows "
                "(--hot-reload-root)."
            )
        return directory


class HotReload:
    """The functions bound to a directory (see the module docstring), durable.

    Contract: called from the event loop's thread only. ``function_changed`` is a registry
    version listener: deleting the function unbinds it, in the delete's transaction.
    """

    def __init__(self, store: HotReloadStore, policy: HotReloadPolicy, cache: DependencyCache) -> None:
        self._store = store
        self.policy = policy
        self.cache = cache  # the build cache of bound directories' dependencies (wheels only)
        self._bound: dict[str, Path] = {}  # function name => its directory
        self._layers: dict[str, Path] = {}  # layer version ARN => its directory
        self._listeners: list[BindingListener] = []

    def __repr__(self) -> str:
        return f"<HotReload bound={len(self._bound)} layers={len(self._layers)}>"

    def load(self) -> None:
        """Read the bindings from the store."""
        self._bound = {name: Path(directory) for name, directory in self._store.directories().items()}
        self._layers = {arn: Path(directory) for arn, directory in self._store.layer_directories().items()}

    def add_listener(self, callback: BindingListener) -> None:
        """``callback(key, directory)`` after a function (its name) or a layer version (its
        ARN) is bound (again), ``(key, None)`` after it is unbound."""
        self._listeners.append(callback)

    def bound(self) -> dict[str, Path]:
        """Every bound function's directory, by name."""
        return dict(self._bound)

    def directory_of(self, name: str) -> Path | None:
        return self._bound.get(name)

    def bound_layers(self) -> dict[str, Path]:
        """Every bound layer version's directory, by its ARN."""
        return dict(self._layers)

    def layer_directory_of(self, arn: str) -> Path | None:
        return self._layers.get(arn)

    def bind_layer(self, arn: str, directory: Path | None) -> None:
        """Bind the layer version ``arn`` to ``directory``, or unbind it (None): the ``$LATEST``
        of every function listing it then runs the directory's newest snapshot as that layer
        (``Registry.reload_layer``); listeners hear of any change."""
        if self._layers.get(arn) == directory:
            return
        if directory is None:
            self._store.delete_layer(arn)
            del self._layers[arn]
        else:
            self._store.put_layer(arn, str(directory))
            self._layers[arn] = directory
        for listener in self._listeners:
            listener(arn, directory)

    def requested(self, code: object) -> Path | None:
        """The directory ``code`` asks to bind, checked (``HotReloadPolicy.check``), or None
        when it asks for none. Raises InvalidParameterValue."""
        raw = requested_directory(code)
        return None if raw is None else self.policy.check(raw)

    def bind(self, name: str, directory: Path | None) -> None:
        """Bind ``name``'s ``$LATEST`` to ``directory``, or unbind it (None); listeners hear
        of any change."""
        if self._bound.get(name) == directory:
            return
        if directory is None:
            self._store.delete(name)
            del self._bound[name]
        else:
            self._store.put(name, str(directory))
            self._bound[name] = directory
        for listener in self._listeners:
            listener(name, directory)

    def function_changed(self, name: str, version: str | None) -> None:
        """Registry version listener: a deleted function is unbound."""
        if version is None and name in self._bound:
            self.bind(name, None)
        elif version == LATEST and name in self._bound:
            for listener in self._listeners:  # its variables (globs) may have changed
                listener(name, self._bound[name])
