"""Late-bound code: the ``/var/task`` of an environment started before it knows its function.

A Node.js environment costs ~45 ms of ``node`` start-up before it can load a function, so the
engine starts some ahead, for no function in particular (late-bound spares,
``placement/spares.py``). Each one's ``/var/task`` is an empty *staging point*,
``<root>/<uid>`` (one per sandbox uid), and all staging points lie under one mount of the
engine's own mount namespace that is *shared*. The environment's sandbox mounts its staging
point read-only at ``/var/task`` as a *slave* of the engine's (``late_task`` in its plan;
``runtimes/lambda_python/sandbox.py``): mounts the engine makes there propagate into the
environment; nothing the environment does propagates back (it could not mount anyway).

When a function takes the environment, ``attach`` mounts the version's unpacked code on the
staging point, read-only: the kernel mounts the same in the environment's ``/var/task``. Three
system calls (``open_tree``, ``mount_setattr``, ``move_mount``), ~0.1 ms whatever the code's
size. ``detach`` unmounts it when the environment stops, before its uid (and so its staging
point) is given to another.

Only where the engine has a mount namespace of its own (``mountns.py``): a crash then drops
the shared mount with the namespace, and nothing leaks onto the host.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from flare.runtimes.lambda_python import sandbox

MS_SHARED = 1 << 20
CODE_ATTRIBUTES = sandbox.MOUNT_ATTR_RDONLY | sandbox.MOUNT_ATTR_NOSUID | sandbox.MOUNT_ATTR_NODEV


class CodeStaging:
    """The staging points under ``root`` (a shared mount: see ``open``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"<CodeStaging {self.root}>"

    @classmethod
    def open(cls, root: Path) -> CodeStaging | str:
        """Make ``root`` a shared mount of the engine's mount namespace (a bind of itself);
        a ``CodeStaging`` on it, or why not (the kernel refused). The caller makes sure the
        engine's mount namespace is its own (``mountns.mounts_are_private``)."""
        root.mkdir(parents=True, exist_ok=True)
        try:
            with contextlib.suppress(OSError):  # a mount left by an engine in this namespace
                _unmount(root)
            sandbox.mount(str(root), str(root), "", sandbox.MS_BIND)
            sandbox.mount("", str(root), "", MS_SHARED)
        except OSError as error:
            return f"staging mount: {error.strerror or error}"
        return cls(root)

    def point(self, uid: int) -> Path:
        """Environment ``uid``'s staging point (made empty if it is not there)."""
        path = self.root / str(uid)
        path.mkdir(mode=0o755, exist_ok=True)
        return path

    def attach(self, code_dir: Path, uid: int) -> None:
        """Mount ``code_dir`` read-only on ``uid``'s staging point (and so at the ``/var/task``
        of the environment of that uid). Raises OSError when the kernel refuses."""
        target = self.point(uid)
        self.detach(uid)  # an earlier environment's, had it not been
        fd = sandbox.clone_tree(str(code_dir), False, CODE_ATTRIBUTES)
        try:
            sandbox.attach_tree(fd, str(target))
        except OSError:
            os.close(fd)
            raise

    def detach(self, uid: int) -> None:
        """Unmount whatever is mounted on ``uid``'s staging point (nothing: nothing happens)."""
        with contextlib.suppress(OSError):  # EINVAL: nothing mounted there
            _unmount(self.root / str(uid))


def _unmount(path: Path) -> None:
    sandbox.check(sandbox.libc.umount2(str(path).encode(), sandbox.MNT_DETACH), f"umount {path}")
