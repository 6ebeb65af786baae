"""The pure half of build steps: which file asks for dependencies, its cache key, its command.

A Python function's ``requirements.txt`` is installed with pip (``--target``), a Node.js
function's ``package.json`` with npm (``npm ci`` when a ``package-lock.json`` is beside it, else
``npm install --omit=dev``), as ``sam build`` does. Nothing here runs a process or touches a
cache: ``dependency_cache`` does, from what these functions decide.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

PYTHON_MANIFEST = "requirements.txt"
NODE_MANIFEST = "package.json"
NODE_LOCK = "package-lock.json"
MANIFEST_NAMES = frozenset({PYTHON_MANIFEST, NODE_MANIFEST, NODE_LOCK})
KEY_VERSION = "1"  # bump when what a cache entry holds changes
_PYTHON_RUNTIME = re.compile(r"^python(3\.\d+)$")


@dataclass(frozen=True)
class Manifest:
    """What asks a function's code for dependencies: ``tool`` ("pip" or "npm") and the files
    (name, bytes) that decide the install, read from the code's directory."""

    tool: str
    files: tuple[tuple[str, bytes], ...]

    @property
    def name(self) -> str:
        """The manifest's file name, as the build's messages show it."""
        return self.files[0][0]

    @property
    def locked(self) -> bool:
        return any(name == NODE_LOCK for name, _ in self.files)

    def key(self, runtime: str, architecture: str) -> str:
        """The cache key: a hash of the files, the runtime and the architecture."""
        digest = hashlib.sha256(f"{KEY_VERSION}\0{runtime}\0{architecture}\0".encode())
        for name, data in self.files:
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
        return f"{self.tool}-{runtime}-{architecture}-{digest.hexdigest()[:24]}"


def find(directory: Path, runtime: str) -> Manifest | None:
    """The manifest of the code in ``directory`` for ``runtime``: ``requirements.txt`` for a
    ``python3.*`` runtime, ``package.json`` (and its lock) for ``nodejs*``; None when there is
    none, it has no requirement, or the runtime has no build step. Raises OSError."""
    if _PYTHON_RUNTIME.match(runtime):
        path = directory / PYTHON_MANIFEST
        if not path.is_file():
            return None
        data = path.read_bytes()
        if not any(line.split(b"#", 1)[0].strip() for line in data.splitlines()):
            return None
        return Manifest("pip", ((PYTHON_MANIFEST, data),))
    if runtime.startswith("nodejs"):
        path = directory / NODE_MANIFEST
        if not path.is_file():
            return None
        files = [(NODE_MANIFEST, path.read_bytes())]
        if (directory / NODE_LOCK).is_file():
            files.append((NODE_LOCK, (directory / NODE_LOCK).read_bytes()))
        return Manifest("npm", tuple(files))
    return None


def python_minor(runtime: str) -> str | None:
    """``3.12`` for ``python3.12``; None for any other runtime."""
    match = _PYTHON_RUNTIME.match(runtime)
    return match.group(1) if match else None


def pip_command(
    minor: str, requirements: Path, target: Path, interpreter: Path | None, fallback: Path, wheels_only: bool
) -> list[str]:
    """The pip command installing ``requirements`` into ``target`` for Python ``minor``: with
    ``interpreter`` (that version's own Python) its pip; without one, ``fallback``'s pip asked
    for wheels of that version and the host's Linux platform (``--python-version``, ``--platform``,
    ``--only-binary=:all:``). ``wheels_only`` refuses source distributions in either case (so no
    package's own code runs at install time)."""
    common = ["install", "--quiet", "--no-compile", "--disable-pip-version-check", "--no-input"]
    common += ["--target", str(target), "--requirement", str(requirements)]
    if interpreter is not None:
        return [str(interpreter), "-m", "pip", *common, *(["--only-binary=:all:"] if wheels_only else [])]
    import platform

    machine = platform.machine() or "x86_64"
    cross = ["--python-version", minor, "--implementation", "cp", "--only-binary=:all:"]
    cross += ["--platform", f"manylinux2014_{machine}", "--platform", f"manylinux_2_28_{machine}"]
    return [str(fallback), "-m", "pip", *common, *cross]


def npm_command(manifest: Manifest, ignore_scripts: bool) -> list[str]:
    """The npm command installing ``manifest``'s production dependencies in the directory it
    runs in (where its files were copied): ``npm ci`` with a lock, else ``npm install``."""
    command = ["npm", "ci" if manifest.locked else "install", "--omit=dev", "--no-audit", "--no-fund"]
    command += ["--loglevel=error"]
    return command + (["--ignore-scripts"] if ignore_scripts else [])
