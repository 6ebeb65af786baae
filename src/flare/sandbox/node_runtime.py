"""Which ``node`` runs a ``nodejsNN.x`` function, and how Flare's Node.js runtime client starts.

Each ``nodejsNN.x`` runtime runs on a ``node`` of major version NN when the host has one (on
``PATH`` as ``node`` or ``nodeNN``, or where nvm, n and distribution packages put them), else on
the host's ``node`` (the one on ``PATH``), and the function's log says so, as for Python. The
environment ``exec``s ``node`` with Flare's runtime client (``runtimes/lambda_node/index.js``),
which speaks the Runtime API. Looking costs a ``node --version`` per binary whose path does not
name its version: it happens once, the first time a Node.js function needs it.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

NODE_RUNTIME = re.compile(r"^nodejs(\d+)\.x$")
CLIENT = "lambda_node/index.js"  # under the runtime directory (/var/runtime)
_VERSION_IN_PATH = re.compile(r"/v?(\d+)\.\d+\.\d+/")
_USUAL_PLACES = (
    "/usr/bin/node",
    "/usr/local/bin/node",
    "~/.nvm/versions/node/v*/bin/node",
    "/usr/local/n/versions/node/*/bin/node",
    "/opt/node*/bin/node",
    "/opt/nodejs*/bin/node",
    "/usr/lib/nodejs*/bin/node",
)


def wanted_major(runtime: str) -> str | None:
    """``"20"`` for ``nodejs20.x``; None for a runtime that is not Node.js."""
    match = NODE_RUNTIME.match(runtime)
    return match.group(1) if match else None


@dataclass(frozen=True)
class NodeBinaries:
    """The host's ``node`` binaries by major version, and the one on ``PATH`` (None: no node)."""

    by_major: dict[str, Path] = field(default_factory=dict)
    host: Path | None = None
    host_major: str | None = None


def _major_of(binary: Path) -> str | None:
    match = _VERSION_IN_PATH.search(str(binary))
    if match:
        return match.group(1)
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    version = re.match(r"v(\d+)\.", out.strip())
    return version.group(1) if version else None


def find_node_binaries(majors: tuple[str, ...]) -> NodeBinaries:
    """Look for a ``node`` of each of ``majors`` and for the host's (see the module docstring)."""
    on_path = shutil.which("node")
    candidates = [on_path] if on_path else []
    candidates += [found for major in majors if (found := shutil.which(f"node{major}"))]
    for place in _USUAL_PLACES:
        candidates += sorted(glob.glob(os.path.expanduser(place)), reverse=True)
    by_major: dict[str, Path] = {}
    seen: dict[Path, str | None] = {}
    for candidate in candidates:
        binary = Path(candidate).resolve()
        if binary in seen or not os.access(binary, os.X_OK):
            continue
        seen[binary] = major = _major_of(binary)
        if major is not None:
            by_major.setdefault(major, binary)
    host = Path(on_path).resolve() if on_path else next(iter(by_major.values()), None)
    return NodeBinaries(by_major, host, seen.get(host) if host else None)


# Experimental features Lambda turns off per runtime, and the flag a function's NODE_OPTIONS
# names to turn each back on (Lambda then leaves its own flag out).
DISABLED_FEATURES = {
    "20": (("--no-experimental-require-module", "--experimental-require-module"),),
    "22": (
        ("--no-experimental-require-module", "--experimental-require-module"),
        ("--no-experimental-detect-module", "--experimental-detect-module"),
    ),
}
FIRST_WITH_FEATURE_FLAGS = 20  # an older node refuses them


def node_argv(
    node: str,
    runtime_dir: str,
    memory_mb: int,
    runtime_major: str,
    node_major: str | None = None,
    node_options: str = "",
) -> list[str]:
    """The command line of a Node.js environment: ``node`` (as the environment sees it) with a
    heap sized from the memory, as Lambda's bootstrap sizes it (old space: the memory less a
    64th, semi-space a 128th), the experimental features Lambda turns off for ``runtime_major``
    (unless ``node_options``, the function's NODE_OPTIONS, turns one on, or the ``node`` that
    runs it, of ``node_major``, predates them), then Flare's runtime client."""
    new_space = max(1, memory_mb // 64)
    argv = [
        node,
        "--expose-gc",
        "--max-http-header-size=81920",
        f"--max-semi-space-size={max(1, new_space // 2)}",
        f"--max-old-space-size={memory_mb - new_space}",
    ]
    if node_major is not None and int(node_major) >= FIRST_WITH_FEATURE_FLAGS:
        chosen = node_options.split()
        argv += [off for off, on in DISABLED_FEATURES.get(runtime_major, ()) if on not in chosen]
    return [*argv, f"{runtime_dir}/{CLIENT}"]


def node_path(major: str, opt_dir: str | None, sdk_dir: str, runtime_dir: str, task_root: str) -> str:
    """``NODE_PATH`` in Lambda's order: the layers' ``nodejs/nodeNN/node_modules`` and
    ``nodejs/node_modules``, the SDK the runtime provides (AWS SDK for JavaScript v3), the
    runtime, the code. A function's own ``node_modules`` come first anyway (Node looks there
    before ``NODE_PATH``)."""
    opt = opt_dir or "/opt"
    return ":".join(
        [
            f"{opt}/nodejs/node{major}/node_modules",
            f"{opt}/nodejs/node_modules",
            f"{sdk_dir}/nodejs/node_modules",
            runtime_dir,
            task_root,
        ]
    )
