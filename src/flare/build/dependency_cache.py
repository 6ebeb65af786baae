"""The actor half of build steps: runs pip / npm into a cache of installed dependency trees.

The cache is a directory (``FLARE_BUILD_CACHE``, else ``$XDG_CACHE_HOME/flare/dependencies``,
else ``~/.cache/flare/dependencies``) holding one tree per key (``Manifest.key``: the manifest's
bytes, the runtime, the architecture). A tree is installed into a temporary directory beside
it and renamed into place, so a reader never sees half a tree and two builders of one key
(the CLI and a server's watch) leave one tree. A tree is never changed once in place: a changed
manifest is a new key. Nothing is ever deleted here; ``rm -rf`` the cache to reclaim its space.

Flare runs ``arm64`` functions on the host's CPU, so every tree is installed for the host's
platform; the architecture is still part of the key, as ``sam build`` keeps them apart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flare.build import manifest as manifests
from flare.build.manifest import Manifest
from flare.errors import BuildFailed

CACHE_VARIABLE = "FLARE_BUILD_CACHE"
OUTPUT_TAIL = 2000  # characters of a failed tool's output kept in BuildFailed

Runner = Callable[[list[str], Path], "subprocess.CompletedProcess[str]"]
Interpreters = Callable[[str], "Path | None"]


def default_root(environ: Mapping[str, str]) -> Path:
    """Where the cache is, from ``environ`` (see the module docstring)."""
    if environ.get(CACHE_VARIABLE):
        return Path(environ[CACHE_VARIABLE])
    base = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "flare" / "dependencies"


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def _interpreter(minor: str) -> Path | None:
    from flare.sandbox.launcher import find_interpreter

    return find_interpreter(minor)


@dataclass(frozen=True)
class Built:
    """A tree of installed dependencies: ``path``; ``installed`` whether this call ran the tool
    (False: a cache hit), ``seconds`` how long the call took, ``how`` the tool it ran ("" on a
    hit)."""

    path: Path
    installed: bool
    seconds: float
    how: str


class DependencyCache:
    """The cache of installed dependency trees at ``root`` (see the module docstring).

    ``wheels_only``: install no source distribution and run no package's install scripts
    (``--only-binary=:all:``, ``npm --ignore-scripts``), for builds the server runs for a
    hot-reload directory. ``run`` and ``interpreter_for`` are the process runner and the lookup
    of a Python version's interpreter (swapped in tests). Safe to use from several threads and
    processes at once.
    """

    def __init__(
        self,
        root: Path,
        wheels_only: bool = False,
        run: Runner = _run,
        interpreter_for: Interpreters = _interpreter,
    ) -> None:
        self.root = root
        self.wheels_only = wheels_only
        self._run = run
        self._interpreter_for = interpreter_for

    def __repr__(self) -> str:
        return f"<DependencyCache {self.root}>"

    def lookup(self, manifest: Manifest, runtime: str, architecture: str) -> Path | None:
        """The installed tree for ``manifest``, or None when it is not in the cache yet."""
        path = self.root / manifest.key(runtime, architecture)
        return path if path.is_dir() else None

    def ensure(self, manifest: Manifest, code: Path, runtime: str, architecture: str) -> Built:
        """The installed tree for ``manifest`` (read from the directory ``code``), installing it
        first on a cache miss (pip run from ``code``, so relative paths in requirements.txt
        resolve; npm in a scratch directory holding copies of the manifest files). Raises
        BuildFailed: no tool, or the tool failed."""
        started = time.monotonic()
        found = self.lookup(manifest, runtime, architecture)
        if found is not None:
            return Built(found, False, time.monotonic() - started, "")
        how = self._how(manifest, runtime)
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / manifest.key(runtime, architecture)
        scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=self.root))
        try:
            self._install(manifest, code, runtime, scratch)
            _place(scratch / "tree", final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return Built(final, True, time.monotonic() - started, how)

    def _how(self, manifest: Manifest, runtime: str) -> str:
        if manifest.tool == "npm":
            return "npm ci" if manifest.locked else "npm install"
        minor = manifests.python_minor(runtime) or "?"
        if self._interpreter_for(minor) is not None:
            return f"pip of python{minor}"
        return f"pip --python-version {minor} (no python{minor} on this host)"

    def _install(self, manifest: Manifest, code: Path, runtime: str, scratch: Path) -> None:
        tree = scratch / "tree"
        tree.mkdir()
        if manifest.tool == "pip":
            minor = manifests.python_minor(runtime) or ""
            command = manifests.pip_command(
                minor,
                code / manifests.PYTHON_MANIFEST,
                tree,
                self._interpreter_for(minor),
                Path(sys.executable),
                self.wheels_only,
            )
            self._check(command, code, manifest)
            return
        for name, data in manifest.files:
            (tree / name).write_bytes(data)
        self._check(manifests.npm_command(manifest, self.wheels_only), tree, manifest)

    def _check(self, command: list[str], cwd: Path, manifest: Manifest) -> None:
        try:
            done = self._run(command, cwd)
        except OSError as exc:
            raise BuildFailed(f"{manifest.name}: cannot run {command[0]}: {exc}") from None
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-OUTPUT_TAIL:]
            raise BuildFailed(f"{manifest.name}: {' '.join(command[:4])} failed ({done.returncode})", output)


def _place(tree: Path, final: Path) -> None:
    """Rename ``tree`` to ``final``; another builder's tree already there wins."""
    try:
        os.rename(tree, final)
    except OSError:
        if not final.is_dir():
            raise
