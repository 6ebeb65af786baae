"""The zygote: a pre-started interpreter that forks execution environments on request.

Started by the engine with its control socket on fd 3. It imports the runtime (and the stdlib
modules most handlers use), freezes the garbage collector so children share its heap
copy-on-write, then serves frames:

* ``SPAWN {id, mode, env, cwd, sys_path, site_dirs, handler, debug, argv, wrapped, hold}`` with
  file descriptors ``[log_fd]`` (exec mode; ``[log_fd, hold_fd]`` with ``hold``) or ``[log_fd, channel_fd]``
  (python mode) attached: fork a child in its own session, stdout/stderr on ``log_fd``, stdin
  ``/dev/null`` (``hold_fd`` with ``hold``: a pipe on which the engine releases a runtime started
  ahead of its INIT); python mode runs Flare's runtime on ``channel_fd``, exec mode ``execve``s
  ``argv`` (a ``bootstrap``; with ``wrapped``, an ``AWS_LAMBDA_EXEC_WRAPPER`` that must exist).
  Replies ``SPAWNED {id, pid}``.
* Every child that exits is reaped and reported as ``EXITED {pid, status}`` (raw wait status).

When the control socket closes (the engine is gone), the zygote kills every child and exits.
Children die with the zygote too (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
from typing import Any, Callable, Optional

from lambda_python import bootstrap, child_watch, extension_launch, frames, pid1, sandbox, seccomp, template

# Modules handlers commonly import; loading them here makes every cold start cheaper.
for _name in (
    "json",
    "logging",
    "datetime",
    "decimal",
    "uuid",
    "base64",
    "hashlib",
    "urllib.parse",
    "re",
    "collections",
    "functools",
    "dataclasses",
    "typing",
    "threading",
    "random",
    "time",
):
    __import__(_name)

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


MAX_FDS = 16


def _recv_spawn(control: socket.socket) -> Any:
    """One frame and its attached fds, or None at EOF."""
    fds = array.array("i")
    prefix, ancdata, _flags, _addr = control.recvmsg(
        frames.PREFIX_SIZE, socket.CMSG_LEN(MAX_FDS * fds.itemsize)
    )
    if not prefix:
        return None
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if len(prefix) < frames.PREFIX_SIZE:
        prefix += frames.recv_exact(control, frames.PREFIX_SIZE - len(prefix))
    rest_len, kind, head_len = frames.decode_prefix(prefix)
    header, _body = frames.split(frames.recv_exact(control, rest_len), head_len)
    return kind, header, list(fds)


Become = Callable[[dict, list, int], int]  # (header, fds, status_fd) -> exit code, in the child


def _child(
    control: socket.socket,
    wakeup: int,
    watch: child_watch.ChildWatch,
    become: Become,
    header: dict[str, Any],
    fds: list[int],
    status_fd: int,
) -> None:
    """In a forked child: detach from the spawning loop, run ``become``, exit with its code."""
    code = 1
    try:
        control.close()
        os.close(wakeup)
        watch.close_in_child()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        code = become(header, fds, status_fd)
    except template.ResumeRuntime:
        raise  # a restored copy of an exec'd runtime carries on in its runtime client
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.write(2, f"flare: environment failed to start: {error!r}\n".encode())
    os._exit(code)


def _become_environment(header: dict[str, Any], fds: list[int], status_fd: int) -> int:
    """A new environment: its own session and sandbox, then the runtime or the bootstrap."""
    os.setsid()
    log_fd = fds[0]
    stdin = fds[1] if header.get("hold") else os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(stdin)
    os.close(log_fd)
    plan = header.get("sandbox") or {}
    if header["mode"] == "template":
        sandbox.join_cgroups(plan.get("cgroup_procs", []))
        ready_w, ack_r = fds[2], fds[3]
        template.become_template(header, socket.socket(fileno=fds[1]), ready_w, ack_r)
    tmp_tree = fds[plan["tmp_fd"]] if "tmp_fd" in plan else -1
    joins = sandbox.enter(plan, fds[-1] if header.get("handoff") else -1, tmp_tree)
    sandbox.join_cgroup_fds(joins)
    if plan.get("seccomp"):
        seccomp.install()  # the last of the platform's work: nothing of the function has run
    os.chdir(header["cwd"])
    if header.get("extensions"):
        extension_launch.start(header["extensions"], fds)
    if header["mode"] == "exec":
        if header.get("wrapped"):
            _check_wrapper(header["argv"][0])
        os.execve(header["argv"][0], header["argv"], header["env"])
    if header.get("wrapper"):
        _exec_wrapper(header, fds[1])
    return _run_python(header, socket.socket(fileno=fds[1]))


def _exec_wrapper(header: dict[str, Any], channel_fd: int) -> None:
    """Start Flare's Python runtime through the function's ``AWS_LAMBDA_EXEC_WRAPPER``, as Lambda
    does: the wrapper runs with the runtime's command line as its arguments (the interpreter,
    then ``/var/runtime/bootstrap.py`` last), and whatever it changes in the environment reaches
    the handler. The frames channel stays open across the exec; ``bootstrap.py`` finds it, and
    what the zygote would have set up, in ``_FLARE_RUNTIME`` (and removes it). A wrapper that is
    missing or not executable ends the runtime as Lambda's managed ``bootstrap`` script does:
    a line saying so and exit status 127 or 126 (so INIT fails with ``Runtime.ExitError``)."""
    argv = header["wrapper"]
    _check_wrapper(argv[0])
    os.set_inheritable(channel_fd, True)
    spec = {key: header[key] for key in ("handler", "sys_path", "site_dirs", "debug") if key in header}
    spec["fd"] = channel_fd
    env = dict(header["env"], _FLARE_RUNTIME=json.dumps(spec))
    os.execve(argv[0], argv, env)


def _check_wrapper(path: str) -> None:
    """End the runtime as Lambda's managed ``bootstrap`` does when the wrapper at ``path`` is
    missing (a line saying so, exit status 127) or not executable (126)."""
    if not os.path.isfile(path):
        os.write(1, f"{path}: does not exist\n".encode())
        os._exit(127)
    if not os.access(path, os.X_OK):
        os.write(1, f"{path}: is not an executable\n".encode())
        os._exit(126)


def _run_python(header: dict[str, Any], channel: socket.socket) -> int:
    os.environ.clear()
    os.environ.update(header["env"])
    bootstrap.set_import_path(header)
    import random

    random.seed()
    return bootstrap.run(channel, header["handler"], header.get("debug"))


class Inits:
    """The inits of environments (pid 1 of each one's pid namespace): children of this
    process, never reported to the engine. One is kept spare, made right after a spawn
    (``refill``), so that the next environment's runtime is forked into a namespace whose init
    is already there: making it is off that cold start's path."""

    def __init__(self, forker: sandbox.Forker, watch: child_watch.ChildWatch) -> None:
        self._forker = forker
        self._watch = watch
        self._of_runtime: dict[int, int] = {}
        self._runtime_of: dict[int, int] = {}  # init => its runtime
        self._alive: set[int] = set()  # inits not reaped yet
        self._spare: tuple[int, int] | None = None  # (pid, its namespace's descriptor)

    def fork_runtime(self, plan: dict[str, Any]) -> int:
        """Fork a child into a namespace of its own whose init is the spare (or one made now
        for ``plan``). Returns like ``os.fork``."""
        try:
            return self._fork_into(self._spare or self._spawn(plan))
        except OSError:  # that init had died, and its namespace with it: make another
            return self._fork_into(self._spawn(plan))

    def _fork_into(self, spare: tuple[int, int]) -> int:
        init, namespace = spare
        self._spare = None
        try:
            pid = self._forker.fork_into(namespace)
        finally:
            os.close(namespace)  # in the child too: it must not hold it
        if pid:
            self._of_runtime[pid] = init
            self._runtime_of[init] = pid
        return pid

    def refill(self, plan: dict[str, Any]) -> None:
        """Make the spare init, if there is none (its root: a skeleton of ``plan``)."""
        if self._spare is None:
            self._spare = self._spawn(plan)

    def _spawn(self, plan: dict[str, Any]) -> tuple[int, int]:
        def init() -> None:
            self._watch.close_in_child()
            pid1.become_init(plan)

        pid, namespace = self._forker.spawn_init(init)
        self._watch.watch(pid)
        self._alive.add(pid)
        return pid, namespace

    def reaped(self, pid: int) -> bool:
        """Child ``pid`` was reaped: True if it was an init. When a runtime exits its init is
        killed, which ends the namespace and whatever the function left running in it (an
        init not reaped yet still owns its pid, so the kill cannot hit another process)."""
        if pid in self._alive:
            self._alive.discard(pid)
            if self._spare is not None and self._spare[0] == pid:
                os.close(self._spare[1])
                self._spare = None
            self._of_runtime.pop(self._runtime_of.pop(pid, -1), None)
            return True
        init = self._of_runtime.pop(pid, None)
        if init is not None:
            self._runtime_of.pop(init, None)
            with contextlib.suppress(OSError):
                os.kill(init, signal.SIGKILL)
        return False

    def kill_all(self) -> None:
        for init in self._alive:
            with contextlib.suppress(OSError):
                os.kill(init, signal.SIGKILL)


def _reap(
    control: socket.socket,
    children: dict[int, str | None],
    statuses: dict[int, int],
    inits: Inits,
    watch: child_watch.ChildWatch,
) -> None:
    """Report every exited child but the inits (see ``Inits``). A SnapStart restore's init
    (pid 1 there, its runtime's parent) wrote the runtime's raw wait status to a pipe before
    exiting: that is the status reported for it."""
    for pid, status in watch.exited():
        if inits.reaped(pid):
            continue
        children.pop(pid, None)
        status_fd = statuses.pop(pid, -1)
        if status_fd >= 0:
            with contextlib.suppress(OSError):
                data = os.read(status_fd, 4)
                if len(data) == 4:
                    status = struct.unpack("i", data)[0]
            os.close(status_fd)
        control.sendall(frames.encode(frames.EXITED, {"pid": pid, "status": status}))


def _kill_children(children: dict[int, str | None]) -> None:
    """SIGKILL every child's process group, then thaw its cgroup v1 freezer (a frozen
    process cannot die; without this an engine killed while environments were frozen would
    leave them frozen for good)."""
    for pid, thaw_file in children.items():
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        if thaw_file:
            with contextlib.suppress(OSError), open(thaw_file, "w") as state:
                state.write("THAWED")


def serve(control: socket.socket, become: Become, hello_id: str) -> None:
    """Fork a child per SPAWN frame (``become`` runs in it); report SPAWNED and EXITED frames.

    Runs until the control socket closes, then kills every child and exits. A template (a
    SnapStart snapshot) runs this same loop, with restores as its children.
    """
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    children: dict[int, str | None] = {}  # pid => its cgroup v1 freezer.state, if any
    forker = sandbox.Forker()
    statuses: dict[int, int] = {}
    watch = child_watch.ChildWatch()
    inits = Inits(forker, watch)
    control.sendall(frames.encode(frames.SPAWNED, {"id": hello_id, "pid": os.getpid()}))
    poller = select.poll()  # not select(): the watch's descriptor is above FD_SETSIZE
    for fd in (control.fileno(), wake_r, watch.fileno()):
        poller.register(fd, select.POLLIN)
    while True:
        try:
            readable = {fd for fd, _events in poller.poll()}
        except InterruptedError:
            continue
        if wake_r in readable:
            os.read(wake_r, 4096)
        if readable & {wake_r, watch.fileno()}:
            _reap(control, children, statuses, inits, watch)
        if control.fileno() in readable:
            message = _recv_spawn(control)
            if message is None:
                _kill_children(children)
                inits.kill_all()
                os._exit(0)
            _kind, header, fds = message
            pid = _spawn(control, wake_r, watch, become, header, fds, forker, statuses, inits)
            children[pid] = header.get("thaw_file")
            control.sendall(frames.encode(frames.SPAWNED, {"id": header["id"], "pid": pid}))
            if _gets_init(header):
                inits.refill(header["sandbox"])


def _gets_init(header: dict[str, Any]) -> bool:
    """Whether a SPAWN is for a namespaced environment that gets an init from ``Inits``."""
    return bool((header.get("sandbox") or {}).get("namespaces")) and header.get("mode") != "template"


def _spawn(
    control: socket.socket,
    wake_r: int,
    watch: child_watch.ChildWatch,
    become: Become,
    header: dict[str, Any],
    fds: list[int],
    forker: sandbox.Forker,
    statuses: dict[int, int],
    inits: Inits,
) -> int:
    """Fork the child a SPAWN asks for: a namespaced environment's runtime goes into a
    namespace whose init (pid 1) is ready (see ``Inits``); a restore, forked by its template,
    splits its own init off (``pid1.split_init``, its status through a pipe)."""
    sys.stdout.flush()
    sys.stderr.flush()
    mode = header.get("mode")
    plan = header.get("sandbox") or {}
    status_r, status_w = os.pipe() if mode == "restore" else (-1, -1)
    if mode == "template":
        ready_r, ready_w = os.pipe()
        ack_r, ack_w = os.pipe()
        fds = [*fds, ready_w, ack_r]
    pid = inits.fork_runtime(plan) if _gets_init(header) else forker.fork(mode == "restore")
    if pid == 0:
        if status_r >= 0:
            os.close(status_r)
        _child(control, wake_r, watch, become, header, fds, status_w)
    watch.watch(pid)
    for fd in fds:
        os.close(fd)
    if mode == "template":
        template.map_user_namespace(pid, header["uids"], ready_r, ack_w)
        os.close(ready_r)
        os.close(ack_w)
    if status_w >= 0:
        os.close(status_w)
        statuses[pid] = status_r
    return pid


def main(
    control_fd: int, private_mounts: Optional[list[str]] = None, open_files: Optional[tuple[int, int]] = None
) -> None:
    """The zygote's entry point: serve SPAWN frames on ``control_fd``; with ``private_mounts``
    (as root), first leave the mounts under those paths behind (``sandbox.leave_mounts``); with
    ``open_files``, first take that open-files limit (the one the engine started with, before
    it raised its own: ``flare.sandbox.open_files``)."""
    if open_files is not None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, open_files)
    if private_mounts:
        why_not = sandbox.leave_mounts(private_mounts)
        if why_not is not None:
            os.write(2, f"flare: the zygote shares the engine's mounts ({why_not})\n".encode())
    gc.collect()
    gc.freeze()
    serve(socket.socket(fileno=control_fd), _become_environment, hello_id="zygote")


if __name__ == "__main__":
    main(int(sys.argv[1]))
