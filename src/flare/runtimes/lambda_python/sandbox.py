"""Enter an execution environment's sandbox, inside the freshly forked environment process.

Applies the plan the engine sent (``SPAWN.sandbox``), in this order:

1. with namespaces (the zygote's ``Forker`` already put it in a new pid namespace, as pid 2):
   ``unshare`` mount, ipc, uts (and net when isolated), then build a root (the plan's
   read-only skeleton with read-only binds on its mount points: /usr, /etc, the code at
   /var/task, the interpreter at /var/lang, Flare's runtime at /var/runtime, /opt; a writable
   /tmp; a fresh /proc and the host's harmless devices in /dev) and make it the root
   (``enter_root``: moved over the old one, not ``pivot_root``, see there);
2. drop to an unprivileged uid with ``no_new_privs``; the runtime then joins the environment's
   cgroups (everything the function starts is inside). Its pid 1 is a separate init the zygote
   forked ahead of it (``Forker.spawn_init``, ``pid1.become_init``).

Stdlib and ctypes only, Python 3.9-compatible: it runs in every zygote.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import resource
import struct
from typing import Any, Callable, Optional

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_MOVE = 8192
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine(), 155)

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.syscall.restype = ctypes.c_long
libc.unshare.argtypes = [ctypes.c_int]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str, target: str, fstype: str, flags: int, data: str = "") -> None:
    check(
        libc.mount(source.encode(), target.encode(), fstype.encode() or None, flags, data.encode() or None),
        f"mount {source} on {target}",
    )


def join_cgroups(procs_files: list[str]) -> None:
    join_cgroup_fds([os.open(path, os.O_WRONLY) for path in procs_files])


def join_cgroup_fds(fds: list[int]) -> None:
    """Move this process into the cgroups whose cgroup.procs files ``fds`` are ("0" is self)."""
    for fd in fds:
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


class Forker:
    """Forks environments, each into a new pid namespace when asked.

    ``unshare(CLONE_NEWPID)`` only affects children, so the zygote unshares, forks (the child
    is pid 1 of its own namespace and still the zygote's child, so its exit status reaches the
    zygote unchanged), then ``setns`` back to its own namespace for the next fork.
    """

    def __init__(self) -> None:
        self._own = os.open("/proc/self/ns/pid", os.O_RDONLY)

    def fork(self, new_pid_namespace: bool) -> int:
        if new_pid_namespace:
            check(libc.unshare(CLONE_NEWPID), "unshare pid")
        pid = -1
        try:
            pid = os.fork()
        finally:
            if new_pid_namespace and pid != 0:
                check(libc.setns(self._own, CLONE_NEWPID), "setns pid")
        return pid

    def spawn_init(self, init: Callable[[], None]) -> tuple[int, int]:
        """Fork a process that runs ``init`` (which must never return) as pid 1 of a new pid
        namespace. Returns its pid and a descriptor of that namespace for ``fork_into``."""
        check(libc.unshare(CLONE_NEWPID), "unshare pid")
        pid = -1
        try:
            pid = os.fork()
            if pid == 0:
                try:
                    init()
                finally:
                    os._exit(1)
        finally:
            if pid != 0:
                check(libc.setns(self._own, CLONE_NEWPID), "setns pid")
        return pid, os.open(f"/proc/{pid}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    def fork_into(self, namespace: int) -> int:
        """Fork a child into the pid namespace ``namespace`` (from ``spawn_init``; its init is
        pid 1 there). Returns the child's pid here, 0 in the child. The child's parent is
        outside its namespace, so there ``getppid()`` is 0. Raises OSError when that
        namespace's init is gone."""
        check(libc.setns(namespace, CLONE_NEWPID), "setns pid")
        pid = -1
        try:
            pid = os.fork()
        finally:
            if pid != 0:
                check(libc.setns(self._own, CLONE_NEWPID), "setns pid")
        return pid


def enter(plan: dict[str, Any], handoff_fd: int = -1, tmp_tree: int = -1) -> list[int]:
    """Apply ``plan`` to this (freshly forked) process before the runtime starts; ``tmp_tree``
    (a detached mount the engine made of the environment's scratch, ``open_tree``) becomes its
    /tmp.

    With an isolated network, the listening sockets of the Runtime API and of Flare's endpoint
    (``sandbox/api_door.py``) are made inside it and sent to the engine over ``handoff_fd``.
    With namespaces, returns the environment's cgroup.procs files, opened before the new root
    hid them: the caller joins them (``join_cgroup_fds``) in the runtime process, once the
    platform's work (this, and the init split) is done; at 128 MB the function's CPU share
    would make that work several times slower, and on Lambda it is not the function's either.
    Everything the function runs is inside."""
    joins = [os.open(path, os.O_WRONLY) for path in plan.get("cgroup_procs", [])]
    if not plan.get("namespaces"):
        join_cgroup_fds(joins)
        return []
    build_namespaces(plan, tmp_tree=tmp_tree)
    if plan.get("isolated_network"):
        ports = [plan["runtime_api_port"]]
        if plan.get("endpoint_port"):
            ports.append(plan["endpoint_port"])
        _hand_over_listeners(ports, handoff_fd)
    drop_privileges(plan["uid"], plan["gid"], plan.get("nproc"))
    return joins


def build_namespaces(plan: dict[str, Any], trees: dict[str, int] | None = None, tmp_tree: int = -1) -> None:
    """New mount, ipc and uts namespaces (and net when isolated) holding Lambda's layout
    (from ``trees``, made by ``detach_trees``, when given; /tmp from ``tmp_tree`` if not -1)."""
    flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS
    if plan.get("isolated_network"):
        flags |= CLONE_NEWNET
    check(libc.unshare(flags), "unshare")
    hostname = plan.get("hostname", "localhost").encode()
    libc.sethostname(hostname, len(hostname))
    _build_root(plan, trees, tmp_tree)
    if plan.get("isolated_network"):
        _loopback_up()


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


SKELETON = "skeleton"  # the key of the skeleton's own tree in ``detach_trees``'s answer


def detach_trees(plan: dict[str, Any]) -> dict[str, int]:
    """Detached copies (``open_tree``) of the plan's skeleton, every bind source and device,
    made while still root on the host, read-only where the plan says so. Inside a user
    namespace the sources may be unreachable (/root is 0700), but a detached tree can still be
    attached. Keyed by target (the skeleton by ``SKELETON``)."""
    sources = [(plan["skeleton"], SKELETON, False)]
    sources += [(source, target, writable) for source, target, writable in plan["binds"]]
    sources += [("/dev/" + name, "/dev/" + name, True) for name in plan["devices"]]
    trees = {}
    for source, target, writable in sources:
        recursive = target != SKELETON
        read_only = 0 if writable else MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID
        if target == SKELETON:
            read_only |= MOUNT_ATTR_NODEV
        trees[target] = clone_tree(source, recursive, read_only)
    return trees


def clone_tree(source: str, recursive: bool, attributes: int = 0, propagation: int = 0) -> int:
    """A detached copy (``open_tree``) of the mount at ``source`` (with those below it if
    ``recursive``) with mount ``attributes`` set (``MOUNT_ATTR_*``) and, when given, its
    ``propagation`` (``MS_SLAVE``...); its file descriptor, for ``attach_tree``."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    fd = int(libc.syscall(SYS_OPEN_TREE, AT_FDCWD, source.encode(), flags))
    check(0 if fd >= 0 else -1, f"open_tree {source}")
    if attributes or propagation:
        attr = _MountAttr(attributes, 0, propagation, 0)
        at = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
        done = libc.syscall(SYS_MOUNT_SETATTR, fd, b"", at, ctypes.byref(attr), ctypes.sizeof(attr))
        check(int(done), f"mount_setattr {source}")
    return fd


def attach_tree(fd: int, target: str) -> None:
    check(
        int(libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH)),
        f"move_mount {target}",
    )
    os.close(fd)


def _put(source: str, path: str, writable: bool, trees: dict[str, int] | None, key: str) -> None:
    """Mount ``source`` (or its detached tree, ``trees[key]``) on the existing ``path``."""
    if trees is not None:
        attach_tree(trees[key], path)
        return
    mount(source, path, "", MS_BIND | MS_REC)
    if not writable:
        # Keep the source's own flags (nodev, noexec, atime...): inside a user namespace
        # they are locked, and a remount that drops one is refused.
        kept = os.statvfs(source).f_flag & ~(MS_REMOUNT | MS_BIND)
        mount("", path, "", kept | MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)


def _build_root(plan: dict[str, Any], trees: dict[str, int] | None = None, tmp_tree: int = -1) -> None:
    """Make the plan's skeleton (read-only, see ``flare.sandbox.skeleton``) this mount
    namespace's root, with every mount of the plan on the mount points it already holds."""
    root = plan["root"]
    late = _late_task_tree(plan) if trees is None else None
    mount("", "/", "", MS_REC | MS_PRIVATE)
    if trees is not None:
        attach_tree(trees[SKELETON], root)
    else:
        mount(plan["skeleton"], root, "", MS_BIND)
        mount("", root, "", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for source, target, writable in plan["binds"]:
        _put(source, root + target, writable, trees, target)
    if late is not None:
        attach_tree(late, root + plan["late_task"][1])
    if tmp_tree >= 0:
        attach_tree(tmp_tree, root + "/tmp")
    for target, size_mb in plan["tmpfs"]:
        mount("tmpfs", root + target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode=1777")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in plan["devices"]:
        # the root is nodev; each device is a mount of its own, with the host's flags
        _put("/dev/" + name, f"{root}/dev/{name}", True, trees, "/dev/" + name)
    if trees is None:
        enter_root(root)
    else:
        pivot(root)  # a SnapStart template: a mount namespace its user namespace owns


def _late_task_tree(plan: dict[str, Any]) -> Optional[int]:
    """For an environment started before it knows its function (``late_task``: the engine's
    staging point and where it goes, ``/var/task``), a read-only copy of the staging point
    that stays a slave of the engine's: when the engine mounts the function's code there, the
    kernel mounts it here too (``flare.sandbox.code_staging``). Made before this namespace's
    mounts turn private, which would cut it off. None without ``late_task``."""
    late = plan.get("late_task")
    if not late:
        return None
    return clone_tree(late[0], False, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, MS_SLAVE)


def leave_mounts(under: list[str]) -> Optional[str]:
    """Move this (single-threaded) process to a mount namespace of its own without the mounts
    at or below the paths ``under``: the zygote's, so that the environments it forks do not
    copy the engine's scratch mounts (one per live environment: copying them made each new
    mount namespace cost time in proportion). Mounts made later in the engine's namespace do
    not reach this one (the engine's are not shared); this one's are made slaves first, so
    that its unmounts never propagate back to the engine's. Returns None, or why not."""
    if libc.unshare(CLONE_NEWNS) != 0:
        return f"unshare: {os.strerror(ctypes.get_errno())}"
    if libc.mount(None, b"/", None, MS_REC | MS_SLAVE, None) != 0:
        return f"mount --make-rslave /: {os.strerror(ctypes.get_errno())}"
    prefixes = [path.rstrip("/") + "/" for path in under]
    with open("/proc/self/mountinfo") as table:
        points = [_unescape(line.split()[4]) for line in table]
    inside = [point for point in points if any((point + "/").startswith(prefix) for prefix in prefixes)]
    for point in sorted(set(inside), key=len, reverse=True):
        libc.umount2(point.encode(), MNT_DETACH)  # EINVAL: gone with one above it
    return None


def _unescape(field: str) -> str:
    """A mountinfo path with its octal escapes (``\\040`` for a space...) undone."""
    return re.sub(r"\\([0-7]{3})", lambda code: chr(int(code.group(1), 8)), field)


def pivot(root: str) -> None:
    """Make ``root`` (a mount point) this mount namespace's root, the old one detached:
    pivot_root(2)'s own recipe, which stacks the old root on the new one. pivot_root walks
    every thread on the host (the kernel's ``chroot_fs_refs``): beside 1,000 live
    environments that was ~0.7 ms a call, so environments use ``enter_root``; a SnapStart
    template still pivots, its mount namespace being owned by its own user namespace (there a
    process with capabilities could unmount what ``enter_root`` stacks)."""
    os.chdir(root)
    check(libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def enter_root(root: str) -> None:
    """Make ``root`` (a mount point of this private mount namespace, made by a process root on
    the host) this process's root: move it over ``/`` and ``chroot`` into it, as switch_root
    does. Unlike ``pivot`` it touches no other task: its cost does not grow with the processes
    on the host.

    The old root stays in the namespace, under the moved one, and nothing in the sandbox can
    reach it: a path walk never passes above the process's root, and ".." out of the top of
    the moved mount lands on the mount point it covers, so the walk comes back into it;
    mountinfo lists only what lies under the root. Uncovering it would take unmounting the
    moved root or a second ``chroot``, and the sandbox's processes have no capability (their
    own uid, ``no_new_privs``), may not make a user namespace in which they would have some
    (seccomp), and in a user namespace's copy of this mount namespace the mounts come locked
    together (the kernel refuses to unmount one to uncover what is below).
    ``tests/security/test_root_escape.py`` tries each of these."""
    os.chdir(root)
    mount(".", "/", "", MS_MOVE)
    check(libc.chroot(b"."), "chroot")
    os.chdir("/")


def _loopback_up() -> None:
    import fcntl
    import socket

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14s", b"lo", flags | iff_up, b""))


def _hand_over_listeners(ports: list[int], handoff_fd: int) -> None:
    """Listen on ``127.0.0.1:<port>`` for each of ``ports`` inside the isolated network (the
    Runtime API's, then Flare's endpoint's) and send the sockets to the engine in one message."""
    import array
    import socket

    listeners = []
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        listeners.append(listener)
    fds = array.array("i", [listener.fileno() for listener in listeners]).tobytes()
    handoff = socket.socket(fileno=handoff_fd)
    handoff.sendmsg([b"L"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    handoff.close()
    for listener in listeners:
        listener.close()


def drop_privileges(uid: int, gid: int, nproc: Optional[int] = None) -> None:
    """Become ``uid``:``gid`` for good, with no supplementary groups and no way back up
    (no_new_privs); ``nproc`` caps the processes of ``uid`` (RLIMIT_NPROC: the pids limit of a
    host without cgroups)."""
    if nproc is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
