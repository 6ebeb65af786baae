"""SnapStart: a template process holding a version's initialised runtime, forked per restore.

The template is created once per published version (``mode: template``). In the zygote's child,
still root on the host:

1. ``unshare(CLONE_NEWUSER)``; the zygote maps it (``map_user_namespace``): in-namespace root is
   the first uid of the template's own block (``uids.py``), and the rest of the block, its
   restores' uids, map to themselves; nothing else is mapped, so INIT code cannot become any
   other environment. Every capability the template keeps is over its own namespaces only.
2. ``unshare(CLONE_NEWPID)`` and fork: the parent stays as a monitor that exits as the template
   does; the child is pid 1 of the template's pid namespace. It builds Lambda's file layout
   (``sandbox.build_namespaces``), installs the template's seccomp filter (``seccomp.py``: the
   handlers' but for ``mount``, ``move_mount`` and ``setns``), runs INIT (imports the handler) and the
   before-snapshot hooks
   of ``snapshot_restore_py`` (last registered first), freezes the GC and serves SPAWN frames
   like a zygote: each is a restore.
3. A restored environment is forked into a new pid namespace. It mounts its own /proc, moves its
   own /tmp scratch in (a detached mount the engine made with ``open_tree``), joins its cgroups
   (through cgroup.procs files the engine opened: a process moving itself is cheap, moving
   another costs milliseconds), splits off its init, drops to its environment uid with no
   capabilities, says HELLO (the kernel translates its pid for the engine, which signals its
   process group by it), waits for GO, reseeds ``random``, runs
   the after-restore hooks (in registration order) and serves invocations.

A runtime that is not Flare's (a ``provided`` function whose ``bootstrap`` runs
``python -m awslambdaric``) goes through the same steps with one difference: step 2 ``exec``s the
bootstrap instead of running INIT here, and the template loop starts inside that process when
its runtime client asks for ``GET /runtime/restore/next`` (``snapstart_hook.py``). Each restored
copy then returns from that call into the runtime client, which makes the call for real: the
engine knows the copy by its uid and answers 200; the client runs the after-restore hooks.

Stdlib and ctypes only, Python 3.9-compatible.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import random
import signal
import socket
import struct
import sys
from typing import Any, Callable

from lambda_python import bootstrap, frames, pid1, sandbox, seccomp
from lambda_python.uids import SANDBOX_GID

SYS_MOVE_MOUNT = {"x86_64": 429, "aarch64": 429}.get(os.uname().machine, 429)
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def map_user_namespace(pid: int, uids: list[int], ready_fd: int, ack_fd: int) -> None:
    """In the zygote (root): once child ``pid`` has unshared its user namespace, write its maps:
    ``uids`` is ``[first, count]`` of the template's block (see step 1)."""
    if not os.read(ready_fd, 1):
        return
    root, count = uids
    try:
        with open(f"/proc/{pid}/uid_map", "w") as uid_map:
            uid_map.write(f"0 {root} 1\n{root + 1} {root + 1} {count - 1}\n")
        with open(f"/proc/{pid}/gid_map", "w") as gid_map:
            gid_map.write(f"0 {root} 1\n{SANDBOX_GID} {SANDBOX_GID} 1\n")
    finally:
        os.write(ack_fd, b"k")


def become_template(header: dict[str, Any], control: socket.socket, ready_fd: int, ack_fd: int) -> None:
    """Steps 1 and 2 above; never returns."""
    trees = sandbox.detach_trees(header["sandbox"])
    sandbox.check(sandbox.libc.unshare(sandbox.CLONE_NEWUSER), "unshare user")
    os.write(ready_fd, b"u")
    if os.read(ack_fd, 1) != b"k":
        os._exit(1)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    sandbox.check(sandbox.libc.unshare(sandbox.CLONE_NEWPID), "unshare pid")
    child = os.fork()
    if child:
        pid1.monitor(child)
    sandbox.libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    sandbox.build_namespaces(header["sandbox"], trees)
    os.chdir(header["cwd"])
    seccomp.install_template()  # before INIT: the function's code runs from here on
    if header.get("argv"):
        _exec_runtime(header, control)
    os.environ.clear()
    os.environ.update(header["env"])
    bootstrap.set_import_path(header)
    handler = bootstrap.init_or_exit(control, header["handler"])
    _run_before_snapshot(control)
    sys.stdout.flush()
    sys.stderr.flush()
    gc.collect()
    gc.freeze()
    from lambda_python import zygote

    zygote.serve(control, lambda *args: _become_restored(handler, *args), hello_id="template")


HOOK_FD_VARIABLE = "_FLARE_SNAPSTART_FD"
USER_SITE = "user_site"


def _exec_runtime(header: dict[str, Any], control: socket.socket) -> None:
    """Become the function's ``bootstrap``, keeping the control socket for the snapshot hook.

    ``PYTHONUSERBASE`` makes any Python the bootstrap starts import ``usercustomize`` from
    Flare's runtime directory, which installs ``snapstart_hook`` when ``HOOK_FD_VARIABLE`` is
    set (and removes both variables, so the function's own subprocesses never see them)."""
    os.set_inheritable(control.fileno(), True)
    env = dict(header["env"])
    env[HOOK_FD_VARIABLE] = str(control.fileno())
    env["PYTHONUSERBASE"] = f"{env.get('LAMBDA_RUNTIME_DIR', '/var/runtime')}/{USER_SITE}"
    os.execve(header["argv"][0], header["argv"], env)


class ResumeRuntime(BaseException):
    """Raised in a restored copy of an exec'd runtime: it unwinds the template loop back into
    the runtime client's ``restore_next`` call."""


def serve_restores(control: socket.socket) -> None:
    """The template loop inside an exec'd runtime (called at ``restore/next``).

    Never returns in the template itself; returns in each restored copy, sandboxed, as its
    environment's uid, after GO."""
    sys.stdout.flush()
    sys.stderr.flush()
    gc.collect()
    gc.freeze()
    from lambda_python import zygote

    try:
        zygote.serve(control, _become_restored_client, hello_id="template")
    except ResumeRuntime:
        return
    raise AssertionError("the template loop returned")


def _hooks(kind: str) -> list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]:
    try:
        import snapshot_restore_py
    except ImportError:
        return []
    getter = getattr(snapshot_restore_py, f"get_{kind}")
    return list(getter())


def _run_before_snapshot(control: socket.socket) -> None:
    hooks = _hooks("before_snapshot")
    try:
        while hooks:
            function, args, kwargs = hooks.pop()
            function(*args, **kwargs)
    except Exception as error:
        bootstrap.report_init_error(control, error, "Runtime.BeforeSnapshotError")
        os._exit(64)


def _enter_restore(header: dict[str, Any], fds: list[int], status_fd: int) -> Any:
    """Step 3 above up to GO, in the forked child (pid 1 of its own pid namespace): returns the
    channel to the engine, or None when the engine answered HELLO with anything but GO."""
    log_fd, channel_fd, tmp_tree, *cgroup_fds = fds
    for cgroup in cgroup_fds:  # cgroup.procs files the engine opened: "0" moves this process
        os.write(cgroup, b"0")
        os.close(cgroup)
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(null)
    os.close(log_fd)
    sandbox.check(sandbox.libc.unshare(sandbox.CLONE_NEWNS), "unshare mount")
    sandbox.mount("proc", "/proc", "proc", sandbox.MS_NOSUID | sandbox.MS_NODEV | sandbox.MS_NOEXEC)
    sandbox.attach_tree(tmp_tree, "/tmp")
    pid1.split_init(status_fd)
    sandbox.drop_privileges(header["uid"], SANDBOX_GID)
    seccomp.install()  # before the after-restore hooks, the function's first code here
    os.environ.update(header["env"])
    channel = socket.socket(fileno=channel_fd)
    credentials = struct.pack("iII", os.getpid(), os.getuid(), os.getgid())
    channel.sendmsg([frames.encode(frames.HELLO)], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, credentials)])
    kind, _, _ = frames.recv_frame(channel)
    if kind != frames.GO:
        return None
    random.seed()
    return channel


def _become_restored(
    handler: Callable[[Any, Any], Any], header: dict[str, Any], fds: list[int], status_fd: int
) -> int:
    """Step 3 above for Flare's runtime: the after-restore hooks, then invocations as frames."""
    channel = _enter_restore(header, fds, status_fd)
    if channel is None:
        return 1
    try:
        for function, args, kwargs in _hooks("after_restore"):
            function(*args, **kwargs)
    except Exception as error:
        body = bootstrap.error_body(error, "")
        body["errorType"] = "Runtime.AfterRestoreError"
        bootstrap.log_error(body)
        sys.stdout.flush()
        channel.sendall(
            frames.encode(frames.RESTORE_ERROR, {"type": body["errorType"]}, json.dumps(body).encode())
        )
        return 65
    sys.stdout.flush()
    sys.stderr.flush()
    channel.sendall(frames.encode(frames.READY, {"restored": True}))
    bootstrap.serve_loaded(channel, handler)
    return 0


def _become_restored_client(header: dict[str, Any], fds: list[int], status_fd: int) -> int:
    """Step 3 above for an exec'd runtime: after GO, resume the runtime client (which then calls
    ``restore/next``, answered for this copy's uid, and runs the after-restore hooks itself)."""
    channel = _enter_restore(header, fds, status_fd)
    if channel is None:
        return 1
    channel.close()
    raise ResumeRuntime


__all__ = ["ResumeRuntime", "become_template", "map_user_namespace", "serve_restores"]
