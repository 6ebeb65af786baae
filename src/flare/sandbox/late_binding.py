"""Which functions a late-bound Node.js environment may serve, and what it starts with. Pure.

A late-bound environment (``placement/spares.py``) starts ``node`` before it knows its
function: its ``/var/task`` is an empty staging point (``code_staging.py``) and its process
starts with only the variables every such function shares (``BOOT_VARIABLES``). When a
function takes it, its code is mounted at ``/var/task``, and the runtime client, released,
sets the function's variables, moves into ``/var/task`` and only then loads the handler. Its
INIT is then what it would have been in an environment started for the function, if nothing
that ``node`` reads as it starts differs. So a function is served late-bound only when:

- it runs on a Node.js runtime, on demand, without tenants, debugging or SnapStart (the
  spares' own rule, ``spares.wants_spare``);
- it has no layers (``/opt``, the layers' ``NODE_PATH`` entries and their extensions are set
  when the sandbox is made);
- it runs in the engine's shared network (an isolated network's listeners are made then too);
- it sets none of the variables that ``node`` or its libraries read at start-up
  (``BOOT_SENSITIVE``: ``NODE_OPTIONS`` and every ``NODE_*``, libuv's ``UV_*``, the loader's
  ``LD_*``, OpenSSL's, the locale's, ``PATH``, ``HOME``, ``TZ``) nor an exec wrapper (it runs
  before ``node``).

Functions that agree on ``LateKey`` (runtime, memory, ephemeral storage: what the command
line, the cgroup and ``/tmp`` are made from) share the same spares. Difference from Lambda:
the process's initial environment (``/proc/self/environ``) holds only ``BOOT_VARIABLES``;
``process.env``, and so every child process the function starts, holds them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from flare.control.model import FunctionVersion
from flare.sandbox.node_runtime import wanted_major

BOOT_VARIABLES = frozenset(
    {
        "PATH",
        "LANG",
        "TZ",
        "LD_LIBRARY_PATH",
        "NODE_PATH",
        "HOME",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
"""What a late-bound environment's process starts with: the same for every function it may serve."""

BOOT_SENSITIVE_PREFIXES = ("NODE_", "UV_", "LD_", "OPENSSL_", "SSL_", "LC_")
BOOT_SENSITIVE = frozenset({"PATH", "LANG", "HOME", "TZ", "AWS_LAMBDA_EXEC_WRAPPER"})


@dataclass(frozen=True)
class LateKey:
    """What late-bound environments are kept by: functions that agree share them (``slot``
    tells apart the spares of one key)."""

    runtime: str
    memory_mb: int
    ephemeral_mb: int
    slot: int = 0


def late_key(version: FunctionVersion, network: str) -> LateKey | None:
    """``version``'s ``LateKey`` when a late-bound environment may serve it (``network``: its
    network mode), else None. Assumes ``spares.wants_spare(version)``."""
    if wanted_major(version.runtime) is None or version.opt_dir is not None or network != "default":
        return None
    if any(_read_at_start(name) for name in version.environment):
        return None
    return LateKey(version.runtime, version.memory_mb, version.ephemeral_mb)


def _read_at_start(name: str) -> bool:
    return name in BOOT_SENSITIVE or name.startswith(BOOT_SENSITIVE_PREFIXES)


def boot_variables(variables: dict[str, str]) -> dict[str, str]:
    """The part of a function's ``variables`` a late-bound environment starts with."""
    return {name: value for name, value in variables.items() if name in BOOT_VARIABLES}
