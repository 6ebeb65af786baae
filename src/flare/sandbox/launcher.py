"""How to start an environment for a version: which interpreter, which mode, which variables.

``python3.N`` runtimes run Flare's own runtime in a fork of that interpreter's zygote (the exact
minor version when the host has it, else the host's Python, and the log says so).
``provided*`` runtimes ``exec`` the zip's ``bootstrap``, which speaks the Runtime API;
``nodejsNN.x`` runtimes ``exec`` ``node`` with Flare's Node.js runtime client, which speaks it too
(``node_runtime.py``); ``javaNN`` runtimes ``exec`` ``java`` with Flare's Java runtime client
(``java_runtime.py``).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flare.control.model import FunctionVersion
from flare.sandbox.forkserver import RUNTIMES_DIR
from flare.sandbox.isolation import OPT_DIR, Layout
from flare.sandbox.java_runtime import JavaHomes, java_argv
from flare.sandbox.java_runtime import wanted_major as java_major
from flare.sandbox.node_runtime import NodeBinaries, node_argv, node_path, wanted_major

LD_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)
DEFAULT_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
PROVIDED = ("provided", "provided.al2", "provided.al2023")
EXEC_WRAPPER = "AWS_LAMBDA_EXEC_WRAPPER"
_PYTHON_RUNTIME = re.compile(r"^python(3\.\d+)$")


@dataclass(frozen=True)
class SessionCredentials:
    """Temporary AWS credentials, as Lambda gives an environment for its execution role:
    ``AWS_ACCESS_KEY_ID`` (``ASIA…``), ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``."""

    access_key_id: str
    secret_access_key: str
    session_token: str


class CredentialIssuer(Protocol):
    """Where environments get their credentials (``flare.auth.environment_credentials``)."""

    def issue(self, version: FunctionVersion, uids: Iterable[int] = ()) -> SessionCredentials:
        """New credentials acting as ``version``'s function, valid until revoked, for processes
        that run as ``uids`` (a sandboxed environment's; none: the engine's own)."""
        ...

    def revoke(self, access_key_id: str) -> None:
        """The credentials' environment has ended: requests signed with them are refused."""
        ...


def find_interpreter(minor: str) -> Path | None:
    """A real (non-shim) ``python<minor>`` binary on this host, or None."""
    home = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = sorted(glob.glob(str(home / "versions" / f"{minor}.*" / "bin" / f"python{minor}")))
    for candidate in [*reversed(found), f"/usr/local/bin/python{minor}", f"/usr/bin/python{minor}"]:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    which = shutil.which(f"python{minor}")
    if which and "shims" not in which:
        return Path(which)
    return None


def host_interpreter() -> Path:
    """The interpreter the engine itself runs on (outside any venv)."""
    base = getattr(sys, "_base_executable", sys.executable)
    return Path(base).resolve()


@dataclass(frozen=True)
class LaunchPlan:
    """``mode`` is "python" (frames channel) or "exec" (Runtime API over HTTP); ``interpreter``
    is the Python whose zygote forks the environment; ``node`` the ``node`` a Node.js runtime
    ``exec``s (None for other runtimes, or when the host has no ``node``); ``java`` likewise the
    ``java`` a Java runtime ``exec``s."""

    mode: str
    interpreter: Path
    note: str | None = None
    node: Path | None = None
    node_major: str | None = None
    java: Path | None = None

    @property
    def language(self) -> Path:
        """The language runtime's binary, seen at ``/var/lang/bin`` in a sandbox."""
        return self.node or self.java or self.interpreter


def plan_launch(
    runtime: str,
    interpreter_for: dict[str, Path | None],
    nodes: NodeBinaries | None = None,
    javas: JavaHomes | None = None,
) -> LaunchPlan:
    """Decide mode and interpreter for ``runtime``; ``interpreter_for`` maps "3.N" to a binary,
    ``nodes`` are the host's ``node`` binaries and ``javas`` its JDKs (looked for by the caller
    when None)."""
    match = _PYTHON_RUNTIME.match(runtime)
    if match:
        minor = match.group(1)
        exact = interpreter_for.get(minor)
        if exact is not None:
            return LaunchPlan("python", exact)
        host = host_interpreter()
        note = f"flare: python{minor} is not installed on this host; running on {host.name} instead"
        return LaunchPlan("python", host, note)
    major = wanted_major(runtime)
    if major is not None and nodes is not None:
        exact_node = nodes.by_major.get(major)
        if exact_node is not None or nodes.host is None:
            return LaunchPlan("exec", host_interpreter(), node=exact_node, node_major=major)
        note = f"flare: node{major} is not installed on this host; running on node{nodes.host_major} instead"
        return LaunchPlan("exec", host_interpreter(), note, nodes.host, nodes.host_major)
    wanted_java = java_major(runtime)
    if wanted_java is not None and javas is not None:
        java, found = javas.choose(wanted_java)
        if java is None or found == wanted_java:
            return LaunchPlan("exec", host_interpreter(), java=java)
        java_note = f"flare: java{wanted_java} is not installed on this host; running on java{found} instead"
        return LaunchPlan("exec", host_interpreter(), java_note, java=java)
    return LaunchPlan("exec", host_interpreter())


def sdk_dir() -> Path:
    """Where the SDK that runtimes provide (boto3) lives: ``$FLARE_SDK_DIR`` or ``<venv>/lambda-sdk``."""
    return Path(os.environ.get("FLARE_SDK_DIR", Path(sys.prefix) / "lambda-sdk"))


def python_sys_path(layout: Layout, runtime: str) -> list[str]:
    """``sys.path`` for a Python environment (``runtime`` ``python3.N``), in Lambda's order:
    the code, then with layers ``/opt/python/lib/python3.N/site-packages`` and ``/opt/python``,
    then the SDK (before the interpreter's own paths, as Lambda's runtime-included boto3) and
    the runtime client. Without layers the ``/opt`` entries are left out: nothing could be
    found there, and every import would look."""
    paths = [layout.task_root]
    if layout.opt_dir is not None:
        paths += python_site_dirs(layout.opt_dir, runtime)
    return [*paths, layout.sdk_dir, layout.runtime_dir]


def python_site_dirs(opt_dir: str, runtime: str) -> list[str]:
    """The layer directories Lambda's Python runtime puts on ``sys.path`` (and whose ``.pth``
    files it reads, as site directories), in its order."""
    return [f"{opt_dir}/python/lib/{runtime}/site-packages", f"{opt_dir}/python"]


def entry_header(
    version: FunctionVersion,
    layout: Layout,
    python: bool,
    interpreter: str | None = None,
    node_major: str | None = None,
) -> dict[str, Any]:
    """What the zygote needs to start the runtime (``SPAWN``'s fields): for Flare's Python
    runtime the handler, ``sys_path`` and the layers' ``site_dirs`` (whose ``.pth`` files it
    reads), and with ``AWS_LAMBDA_EXEC_WRAPPER`` set the ``wrapper`` command line (``interpreter``:
    the runtime's interpreter as the function sees it); for a Node.js runtime (``interpreter``:
    its ``node``, of ``node_major``) the ``argv`` that starts Flare's Node.js runtime client,
    after the wrapper if one is set (``wrapped``: the zygote checks it exists, as Lambda's
    ``bootstrap`` does); for a Java runtime (``interpreter``: its ``java``) likewise the ``argv``
    that starts Flare's Java runtime client; else the ``argv`` of the ``bootstrap`` (Lambda
    ignores wrappers on OS-only runtimes)."""
    major = wanted_major(version.runtime)
    wanted_java = java_major(version.runtime)
    argv: list[str] | None = None
    if major is not None and interpreter is not None:
        options = version.environment.get("NODE_OPTIONS", "")
        argv = node_argv(interpreter, layout.runtime_dir, version.memory_mb, major, node_major, options)
    elif wanted_java is not None and interpreter is not None:
        argv = java_argv(interpreter, layout.sdk_dir, version.memory_mb, wanted_java, layout.opt_dir)
    if argv is not None:
        wrapper = version.environment.get(EXEC_WRAPPER)
        return {"argv": [wrapper, *argv], "wrapped": True} if wrapper else {"argv": argv}
    if not python:
        return {"argv": [bootstrap_path(version, layout)]}
    sys_path = python_sys_path(layout, version.runtime)
    header: dict[str, Any] = {"handler": version.handler, "sys_path": sys_path}
    if layout.opt_dir is not None:
        header["site_dirs"] = python_site_dirs(layout.opt_dir, version.runtime)
    wrapper = version.environment.get(EXEC_WRAPPER)
    if wrapper and interpreter is not None:
        header["wrapper"] = [wrapper, interpreter, f"{layout.runtime_dir}/bootstrap.py"]
    return header


def bootstrap_path(version: FunctionVersion, layout: Layout | None = None) -> str | None:
    """The ``bootstrap`` a ``provided`` runtime starts, as the function sees it under ``layout``
    (default: host paths): the code's, else its layers' (``/opt/bootstrap``), as Lambda looks
    for it; None when neither is an executable file."""
    if os.access(version.code_dir / "bootstrap", os.X_OK):
        return f"{layout.task_root if layout else version.code_dir}/bootstrap"
    if version.opt_dir is not None and os.access(version.opt_dir / "bootstrap", os.X_OK):
        return f"{layout.opt_dir if layout else version.opt_dir}/bootstrap"
    return None


def environment_variables(
    version: FunctionVersion,
    runtime_api: str,
    log_stream: str,
    endpoint_url: str,
    initialization_type: str = "on-demand",
    layout: Layout | None = None,
    credentials: SessionCredentials | None = None,
) -> dict[str, str]:
    """Every variable a function sees: Lambda's defaults, the user's, then the reserved ones.

    ``layout`` gives the paths as the function sees them (default: the host's); ``credentials``
    are the environment's own (``AWS_ACCESS_KEY_ID`` and friends: its calls back to Flare are
    authenticated as its function, in its account), left out when None."""
    task_root = layout.task_root if layout else str(version.code_dir)
    runtime_dir = layout.runtime_dir if layout else str(RUNTIMES_DIR)
    path, library_path = DEFAULT_PATH, LD_LIBRARY_PATH
    if layout is not None and layout.opt_dir not in (None, OPT_DIR):
        # without a sandbox, the layers' bin and lib are where the engine merged them
        path = path.replace(f"{OPT_DIR}/bin", f"{layout.opt_dir}/bin")
        library_path = library_path.replace(f"{OPT_DIR}/lib", f"{layout.opt_dir}/lib")
    variables = {
        "PATH": path,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LD_LIBRARY_PATH": library_path,
        "PYTHONPATH": runtime_dir,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "AWS_ENDPOINT_URL": endpoint_url,
        "HOME": "/tmp",
    }
    major = wanted_major(version.runtime)
    if major is not None:
        del variables["PYTHONPATH"]
        sdk = layout.sdk_dir if layout else str(sdk_dir())
        opt = layout.opt_dir if layout else None
        variables["NODE_PATH"] = node_path(major, opt, sdk, runtime_dir, task_root)
    elif java_major(version.runtime) is not None:
        del variables["PYTHONPATH"]
    variables.update(version.environment)
    if version.log_format == "JSON":
        variables["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        variables["AWS_LAMBDA_LOG_LEVEL"] = version.application_log_level or "INFO"
    variables.update(
        {
            "_HANDLER": version.handler,
            "AWS_REGION": version.region,
            "AWS_DEFAULT_REGION": version.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{version.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": version.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": version.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
            "AWS_LAMBDA_LOG_GROUP_NAME": version.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": runtime_dir,
        }
    )
    if credentials is not None:
        variables["AWS_ACCESS_KEY"] = variables["AWS_ACCESS_KEY_ID"] = credentials.access_key_id
        variables["AWS_SECRET_ACCESS_KEY"] = credentials.secret_access_key
        variables["AWS_SESSION_TOKEN"] = credentials.session_token
    return variables
